package dev.onionrelay.boot;

import dev.onionrelay.store.StoreConfigurationException;
import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/**
 * A store that cannot be used as configured (no key-encryption key, the wrong one) ends the start with its one-line
 * reason and what to do, not a stack trace; the process exits non-zero.
 */
class StoreFailureAnalyzer extends AbstractFailureAnalyzer<StoreConfigurationException> {

    @Override
    protected FailureAnalysis analyze(Throwable rootFailure, StoreConfigurationException cause) {
        return new FailureAnalysis(cause.getMessage(), cause.action(), cause);
    }
}
