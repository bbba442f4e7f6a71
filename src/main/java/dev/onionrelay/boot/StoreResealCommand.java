package dev.onionrelay.boot;

import com.zaxxer.hikari.HikariDataSource;
import dev.onionrelay.store.KeyRing;
import dev.onionrelay.store.StoreConfigurationException;
import dev.onionrelay.store.StoreMigration;
import dev.onionrelay.store.StoreUnavailableException;
import dev.onionrelay.store.postgres.KeyResealer;
import dev.onionrelay.store.postgres.PgStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.Banner;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.core.env.Environment;

/**
 * {@code java -jar onion-relay.jar --onion.store.reseal} (or {@code ONION_STORE_RESEAL=true}): the step of a
 * key-encryption key rotation that moves the fleet to {@code onion.store.encryption-key-file}, re-sealing every
 * secret still sealed under a key of {@code onion.store.previous-encryption-key-files} ({@link KeyResealer}), and
 * exits: 0 with one line naming the fleet's key id and what was re-sealed, 1 with one line naming why not. The fleet
 * keeps serving meanwhile; two runs at once are safe. It reads the same configuration as the service, so it runs as a
 * one-off job with the instances' configuration (schema validated, never migrated).
 */
public final class StoreResealCommand {

    static final String FLAG = "--onion.store.reseal";
    private static final Logger LOG = LoggerFactory.getLogger(StoreResealCommand.class);

    private StoreResealCommand() {}

    /** Whether the arguments (or the environment) ask for the re-seal alone. */
    public static boolean requested(String[] args) {
        return Arrays.stream(args).anyMatch(arg -> arg.equals(FLAG) || arg.equals(FLAG + "=true"))
                || "true".equalsIgnoreCase(System.getenv("ONION_STORE_RESEAL"));
    }

    /** Re-seals; the exit code. */
    public static int run(String[] args) {
        String[] rest = Arrays.stream(args).filter(arg -> !arg.startsWith(FLAG)).toArray(String[]::new);
        try (ConfigurableApplicationContext context = new SpringApplicationBuilder(StoreResealCommand.class)
                        .web(WebApplicationType.NONE)
                        .bannerMode(Banner.Mode.OFF)
                        .logStartupInfo(false)
                        .run(rest);
                HikariDataSource dataSource = PostgresStoreConfiguration.dataSource(context.getEnvironment())) {
            PgStore store = new PgStore(
                    dataSource, keyRing(context.getEnvironment()), Duration.ofSeconds(5), StoreMigration.VALIDATE);
            KeyResealer.Result done = new KeyResealer(store).reseal();
            LOG.info(
                    "the fleet seals under key id {}: re-sealed {} credentials and {} settings; key ids in use: {}",
                    done.keyId(),
                    done.credentials(),
                    done.settings(),
                    done.keyIdsInUse());
            return 0;
        } catch (StoreConfigurationException e) {
            LOG.error("re-seal failed: {} {}", e.getMessage(), e.action());
            return 1;
        } catch (StoreUnavailableException | IllegalStateException e) {
            LOG.error("re-seal failed: {}", e.getMessage());
            return 1;
        }
    }

    private static KeyRing keyRing(Environment environment) {
        Binder binder = Binder.get(environment);
        Path current = binder.bind(KeyRing.CURRENT_SETTING, Path.class).orElse(null);
        List<Path> previous = binder.bind(KeyRing.PREVIOUS_SETTING, Bindable.listOf(Path.class))
                .orElse(List.of());
        return PostgresStoreConfiguration.keyRing(current, previous);
    }
}
