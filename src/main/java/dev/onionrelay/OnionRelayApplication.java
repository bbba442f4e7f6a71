package dev.onionrelay;

import dev.onionrelay.boot.StoreMigrationCommand;
import dev.onionrelay.boot.StoreResealCommand;
import dev.onionrelay.boot.TermSignal;
import dev.onionrelay.layer.TlsHardening;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/** The onion-relay service: REST API, actuator and the nested-TLS engine. */
@SpringBootApplication
public class OnionRelayApplication {
    public static void main(String[] args) {
        TlsHardening.apply();
        if (StoreMigrationCommand.requested(args)) {
            System.exit(StoreMigrationCommand.run(args));
        }
        if (StoreResealCommand.requested(args)) {
            System.exit(StoreResealCommand.run(args));
        }
        TermSignal.exitZeroOnTerm();
        try {
            SpringApplication.run(OnionRelayApplication.class, args);
        } catch (RuntimeException e) {
            // Spring Boot has reported why (a store with the wrong key: one line naming it) and closed the context.
            // Exit non-zero at once: a thread or shutdown hook left from the failed start must not keep the JVM
            // alive (a start that never ends is worse than a crash loop).
            System.out.flush();
            System.err.flush();
            Runtime.getRuntime().halt(1);
        }
    }
}
