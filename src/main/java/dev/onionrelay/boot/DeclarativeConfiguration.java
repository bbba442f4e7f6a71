package dev.onionrelay.boot;

import dev.onionrelay.credential.CredentialRepository;
import dev.onionrelay.credential.file.CredentialFiles;
import dev.onionrelay.credential.file.FileCredentialWatcher;
import dev.onionrelay.credential.file.FileCredentials;
import dev.onionrelay.observe.FileCredentialHealthIndicator;
import dev.onionrelay.observe.FileCredentialMetrics;
import dev.onionrelay.registry.RelayRegistry;
import java.time.Clock;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Condition;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.context.annotation.Conditional;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;
import org.springframework.core.type.AnnotatedTypeMetadata;

/**
 * Configuration-driven state, the path the Helm chart uses: file credentials ({@code onion.credentials.<name>.*},
 * reloaded when the files change) and declarative relays ({@code onion.relays[i]}).
 *
 * <p>Order at start: file credentials are loaded while beans are created; when the application starts, the declared
 * relays open first (they win a name clash), then API-created relays are restored (both may use file credentials);
 * reloading starts with them.
 */
@Configuration(proxyBeanMethods = false)
@EnableConfigurationProperties(DeclarativeConfiguration.CredentialReload.class)
public class DeclarativeConfiguration {

    /** How often file credentials are checked for changes ({@code onion.credential-reload.interval}). */
    @ConfigurationProperties("onion.credential-reload")
    public record CredentialReload(@DefaultValue("5s") Duration interval) {}

    @Bean
    FileCredentials fileCredentials(OnionProperties properties, CredentialRepository store) {
        return new FileCredentials(properties.credentials(), store, Clock.systemUTC());
    }

    @Bean
    FileCredentialWatcher fileCredentialWatcher(
            FileCredentials credentials, RelayRegistry relays, CredentialReload reload) {
        return new FileCredentialWatcher(credentials, relays::refresh, reload.interval());
    }

    /** Polls the credential files while the application runs. */
    @Bean
    SmartLifecycle fileCredentialReload(FileCredentialWatcher watcher) {
        return new SmartLifecycle() {
            @Override
            public void start() {
                watcher.start();
            }

            @Override
            public void stop() {
                watcher.stop();
            }

            @Override
            public boolean isRunning() {
                return watcher.isRunning();
            }
        };
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

    /** Declared relays are read as strictly as request bodies: a key that names nothing stops the start. */
    @Bean
    DeclaredRelayKeys declaredRelayKeys(Environment environment) {
        return DeclaredRelayKeys.checked(environment);
    }

    @Bean
    DeclarativeRelays declarativeRelays(OnionProperties properties) {
        return new DeclarativeRelays(properties);
    }

    /** True when at least one {@code onion.credentials.<name>} is configured. */
    static final class FileCredentialsConfigured implements Condition {
        @Override
        public boolean matches(ConditionContext context, AnnotatedTypeMetadata metadata) {
            return Binder.get(context.getEnvironment())
                    .bind("onion.credentials", Bindable.mapOf(String.class, CredentialFiles.class))
                    .map(credentials -> !credentials.isEmpty())
                    .orElse(false);
        }
    }
}
