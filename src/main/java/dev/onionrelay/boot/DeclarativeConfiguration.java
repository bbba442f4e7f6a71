package dev.onionrelay.boot;

import dev.onionrelay.credential.CredentialStore;
import dev.onionrelay.credential.file.FileCredentialWatcher;
import dev.onionrelay.credential.file.FileCredentials;
import dev.onionrelay.observe.FileCredentialHealthIndicator;
import dev.onionrelay.observe.FileCredentialMetrics;
import dev.onionrelay.registry.RelayRegistry;
import java.time.Clock;
import java.time.Duration;
import org.springframework.boot.autoconfigure.AbstractDependsOnBeanFactoryPostProcessor;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Condition;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.context.annotation.Conditional;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.type.AnnotatedTypeMetadata;

/**
 * Configuration-driven state, the path the Helm chart uses: file credentials ({@code onion.credentials.<name>.*},
 * reloaded when the files change) and declarative relays ({@code onion.relays[i]}).
 *
 * <p>Order at start: file credentials are loaded before the relay registry is created; the registry opens the declared
 * relays first (they win a name clash) and then restores API-created relays (both may use file credentials); reloading
 * starts with the context.
 */
@Configuration(proxyBeanMethods = false)
@EnableConfigurationProperties(DeclarativeConfiguration.CredentialReload.class)
public class DeclarativeConfiguration {

    /** How often file credentials are checked for changes ({@code onion.credential-reload.interval}). */
    @ConfigurationProperties("onion.credential-reload")
    public record CredentialReload(@DefaultValue("5s") Duration interval) {}

    @Bean
    FileCredentials fileCredentials(OnionProperties properties, CredentialStore store) {
        return new FileCredentials(properties.credentials(), store, Clock.systemUTC());
    }

    @Bean
    FileCredentialWatcher fileCredentialWatcher(
            FileCredentials credentials, RelayRegistry relays, CredentialReload reload) {
        return new FileCredentialWatcher(credentials, relays, reload.interval());
    }

    @Bean
    FileCredentialMetrics fileCredentialMetrics(FileCredentials credentials) {
        return new FileCredentialMetrics(credentials);
    }

    @Bean
    @Conditional(FileCredentialsConfigured.class)
    FileCredentialHealthIndicator fileCredentialsHealthIndicator(FileCredentials credentials) {
        return new FileCredentialHealthIndicator(credentials);
    }

    @Bean
    DeclarativeRelays declarativeRelays(OnionProperties properties) {
        return new DeclarativeRelays(properties);
    }

    /** Makes the relay registry wait for file credentials: restored relays that use them must find them. */
    @Bean
    static RegistryDependsOnFileCredentials registryDependsOnFileCredentials() {
        return new RegistryDependsOnFileCredentials();
    }

    static final class RegistryDependsOnFileCredentials extends AbstractDependsOnBeanFactoryPostProcessor {
        RegistryDependsOnFileCredentials() {
            super(RelayRegistry.class, FileCredentials.class);
        }
    }

    /** True when at least one {@code onion.credentials.<name>} is configured. */
    static final class FileCredentialsConfigured implements Condition {
        @Override
        public boolean matches(ConditionContext context, AnnotatedTypeMetadata metadata) {
            return Binder.get(context.getEnvironment())
                    .bind("onion.credentials", Bindable.mapOf(String.class, OnionProperties.FileCredential.class))
                    .map(credentials -> !credentials.isEmpty())
                    .orElse(false);
        }
    }
}
