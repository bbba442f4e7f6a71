package dev.onionrelay.boot;

import com.zaxxer.hikari.HikariDataSource;
import dev.onionrelay.store.StoreConfigurationException;
import dev.onionrelay.store.StoreMigration;
import dev.onionrelay.store.StoreUnavailableException;
import dev.onionrelay.store.postgres.StoreSchema;
import java.time.Duration;
import java.util.Arrays;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.Banner;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * {@code java -jar onion-relay.jar --onion.store.migrate-only} (or {@code ONION_STORE_MIGRATE_ONLY=true}): brings the
 * fleet's store schema to this version's and exits, 0 when done, 1 with one line naming why not. No relay, API or
 * membership starts. The step before a rollout of instances with {@code onion.store.migrate=validate}; it reads the
 * same configuration as the service ({@code spring.datasource.*} from arguments, environment or application.yml).
 */
public final class StoreMigrationCommand {

    static final String FLAG = "--onion.store.migrate-only";
    private static final Logger LOG = LoggerFactory.getLogger(StoreMigrationCommand.class);

    private StoreMigrationCommand() {}

    /** Whether the arguments (or the environment) ask for the migration alone. */
    public static boolean requested(String[] args) {
        return Arrays.stream(args).anyMatch(arg -> arg.equals(FLAG) || arg.equals(FLAG + "=true"))
                || "true".equalsIgnoreCase(System.getenv("ONION_STORE_MIGRATE_ONLY"));
    }

    /** Migrates; the exit code. */
    public static int run(String[] args) {
        String[] rest = Arrays.stream(args).filter(arg -> !arg.startsWith(FLAG)).toArray(String[]::new);
        try (ConfigurableApplicationContext context = new SpringApplicationBuilder(StoreMigrationCommand.class)
                        .web(WebApplicationType.NONE)
                        .bannerMode(Banner.Mode.OFF)
                        .logStartupInfo(false)
                        .run(rest);
                HikariDataSource dataSource = PostgresStoreConfiguration.dataSource(context.getEnvironment())) {
            String version = new StoreSchema(dataSource, StoreMigration.AUTO, Duration.ZERO).migrate();
            LOG.info("the store's schema is at version {}", version);
            return 0;
        } catch (StoreConfigurationException e) {
            LOG.error("store migration failed: {} {}", e.getMessage(), e.action());
            return 1;
        } catch (StoreUnavailableException e) {
            LOG.error("store migration failed: {}", e.getMessage());
            return 1;
        }
    }
}
