package dev.onionrelay.boot;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.onionrelay.observe.StoreHealthIndicator;
import dev.onionrelay.observe.StoreMetrics;
import dev.onionrelay.registry.RelayRegistry;
import dev.onionrelay.store.KeyRing;
import dev.onionrelay.store.StoreConfigurationException;
import dev.onionrelay.store.StoreUnavailableException;
import dev.onionrelay.store.postgres.FleetSync;
import dev.onionrelay.store.postgres.PgStore;
import dev.onionrelay.store.postgres.PostgresCredentialRepository;
import dev.onionrelay.store.postgres.PostgresRelayStore;
import dev.onionrelay.store.postgres.StoreSnapshot;
import dev.onionrelay.store.postgres.StoreTimeout;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;

/**
 * The shared store of a fleet ({@code onion.store.type: postgres}): a HikariCP pool on Spring Boot's
 * {@code spring.datasource.url}, {@code .username}, {@code .password} (and {@code spring.datasource.hikari.*}),
 * Flyway migrations, the key-encryption key, the PostgreSQL relay and credential stores, and the sync that keeps
 * this instance on the store's state. With the file store (the default) none of this exists: no pool, no Flyway.
 *
 * <p>An instance that starts while the database is away serves the snapshot its last sync wrote and converges when
 * the database returns; a missing or wrong key-encryption key stops the start with a one-line reason.
 */
@Configuration(proxyBeanMethods = false)
@ConditionalOnProperty(name = "onion.store.type", havingValue = "postgres")
public class PostgresStoreConfiguration {

    private static final Logger LOG = LoggerFactory.getLogger(PostgresStoreConfiguration.class);
    static final String SNAPSHOT_FILE = "store-snapshot.json";

    @Bean
    KeyRing storeKeyRing(OnionProperties properties) {
        return keyRing(
                properties.store().encryptionKeyFile(), properties.store().previousEncryptionKeyFiles());
    }

    /** The current key and the previous ones; also what {@code --onion.store.reseal} seals with. */
    static KeyRing keyRing(@Nullable Path current, List<Path> previous) {
        if (current == null) {
            throw new StoreConfigurationException(
                    "onion.store.type is postgres but onion.store.encryption-key-file is not set",
                    "Point onion.store.encryption-key-file at 32 random bytes (e.g. openssl rand -base64 32), the same"
                            + " file on every instance of the fleet.");
        }
        return KeyRing.load(current, previous);
    }

    @Bean(destroyMethod = "close")
    HikariDataSource storeDataSource(Environment environment) {
        return dataSource(environment);
    }

    /** The pool on {@code spring.datasource.*}; also what {@code --onion.store.migrate-only} migrates with. */
    static HikariDataSource dataSource(Environment environment) {
        String url = environment.getProperty("spring.datasource.url");
        if (url == null || url.isBlank()) {
            throw new StoreConfigurationException(
                    "onion.store.type is postgres but spring.datasource.url is not set",
                    "Set spring.datasource.url (jdbc:postgresql://host:5432/db), .username and .password.");
        }
        StoreTimeout timeout = storeTimeout(environment);
        HikariConfig config = new HikariConfig();
        config.setPoolName("onion-store");
        // Fail fast while the database is away: writes answer 503 at once, relays keep serving. Both waits are cut
        // from onion.store.timeout, so that together they stay within it (see StoreTimeout).
        config.setConnectionTimeout(timeout.connectionMillis());
        config.setValidationTimeout(timeout.validationMillis());
        config.setMaximumPoolSize(8);
        // Start even when the database is away: the instance serves its snapshot meanwhile.
        config.setInitializationFailTimeout(-1);
        Binder.get(environment).bind("spring.datasource.hikari", Bindable.ofInstance(config));
        config.setJdbcUrl(url);
        config.setUsername(environment.getProperty("spring.datasource.username"));
        config.setPassword(environment.getProperty("spring.datasource.password"));
        // A database that stops answering (a stalled network, a hung server) fails the call waiting on it after
        // onion.store.timeout, as unavailable (503), instead of holding it and the API thread indefinitely.
        config.addDataSourceProperty("socketTimeout", String.valueOf(timeout.socketSeconds()));
        return new HikariDataSource(config);
    }

    /** {@code onion.store.timeout}, read before the properties are bound (the migrate-only command has no beans). */
    static StoreTimeout storeTimeout(Environment environment) {
        return new StoreTimeout(Binder.get(environment)
                .bind("onion.store.timeout", Duration.class)
                .orElse(Duration.ofSeconds(5)));
    }

    /**
     * The store, this instance admitted (schema migrated or validated, key checked) before anything uses it, unless
     * the database is away now: then the sync admits it when the database returns, and until then it takes no writes,
     * joins no membership and is not ready. A store that answers but cannot be used (another key, authentication
     * refused, a schema newer than this version or damaged) stops the start with one line.
     */
    @Bean
    PgStore pgStore(HikariDataSource dataSource, KeyRing keys, OnionProperties properties) {
        PgStore store = new PgStore(
                dataSource,
                keys,
                properties.store().retryAfter(),
                properties.store().migrate(),
                new StoreTimeout(properties.store().timeout()));
        if (!store.prepare()) {
            LOG.warn("the store cannot be reached at start; serving the snapshot of the last state, not admitted to"
                    + " the fleet (no writes, not ready) until it can");
        }
        return store;
    }

    @Bean
    StoreSnapshot storeSnapshot(OnionProperties properties) {
        return new StoreSnapshot(properties.stateDir().resolve(SNAPSHOT_FILE));
    }

    /** Credentials from configured files stay on this instance, so a relay's uses of them are not in the store. */
    @Bean
    PostgresRelayStore postgresRelayStore(PgStore store, ObjectProvider<PostgresCredentialRepository> credentials) {
        return new PostgresRelayStore(store, name -> credentials.getObject().keptLocally(name));
    }

    @Bean
    PostgresCredentialRepository postgresCredentialRepository(
            PgStore store, StoreSnapshot snapshot, PostgresRelayStore relays) {
        PostgresCredentialRepository credentials = new PostgresCredentialRepository(store);
        boolean read = false;
        if (store.prepared()) {
            try {
                credentials.refresh();
                relays.load();
                read = true;
            } catch (StoreUnavailableException e) {
                LOG.warn("{}; starting from the snapshot of the last state", e.getMessage());
            }
        }
        if (!read) {
            Optional<StoreSnapshot.State> last = snapshot.read();
            if (last.isPresent()) {
                credentials.apply(last.get().credentials());
                relays.seed(last.get().relays());
                LOG.warn(
                        "serving {} relays and {} credentials from the snapshot {} until the store can be reached",
                        last.get().relays().size(),
                        last.get().credentials().size(),
                        snapshot.file());
            } else {
                relays.seed(List.of());
                LOG.warn("the store cannot be reached and there is no snapshot yet: no stored relays until it can");
            }
        }
        return credentials;
    }

    @Bean(destroyMethod = "close")
    FleetSync fleetSync(
            PgStore store,
            PostgresCredentialRepository credentials,
            PostgresRelayStore relays,
            RelayRegistry registry,
            StoreSnapshot snapshot,
            OnionProperties properties) {
        return new FleetSync(
                store,
                credentials,
                relays,
                registry,
                snapshot,
                properties.store().resync());
    }

    /** Starts following the store once the relays of the last state are open (after they are restored). */
    @Bean
    SmartLifecycle fleetSyncStart(FleetSync sync) {
        return new SmartLifecycle() {
            private volatile boolean running;

            @Override
            public void start() {
                sync.start();
                running = true;
            }

            @Override
            public void stop() {
                sync.close();
                running = false;
            }

            @Override
            public boolean isRunning() {
                return running;
            }

            @Override
            public int getPhase() {
                return OnionConfiguration.RelayRestore.PHASE + 1;
            }
        };
    }

    /** The {@code store} health component. */
    @Bean
    StoreHealthIndicator storeHealthIndicator(FleetSync sync) {
        return new StoreHealthIndicator(sync::status);
    }

    /**
     * {@code onion_store_up} (1 while the last read of the store succeeded) and {@code onion_store_sync_age_seconds}
     * (since the last successful full read; since the start while there was none), for alerting on a fleet whose
     * instances drift from the store.
     */
    @Bean
    StoreMetrics storeMetrics(FleetSync sync, MeterRegistry registry) {
        return StoreMetrics.register(sync::status, registry);
    }
}
