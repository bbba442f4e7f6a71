package dev.onionrelay.docs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.OnionRelayApplication;
import dev.onionrelay.support.PgCluster;
import dev.onionrelay.support.Scenario;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The PostgreSQL blocks of the README ("Fleet") and docs/DEPLOYMENT.md (membership, migrating as a step of its own,
 * rotating the key-encryption key, backup and restore), pasted into bash in that order against one throwaway
 * PostgreSQL: two instances start from the README's commands, see each other, carry a request through a relay of
 * each, and stop; then the migration, the re-seal and a backup restored into a fresh database that a new instance
 * serves with the same relays.
 *
 * <p>Edits to the blocks: the database is the test's ({@code 127.0.0.1:5432} and {@code db:5432} become its port,
 * {@code --host=db} its host and port, the password its password), fixed ports become free ones, and {@code java -jar
 * <jar>} runs the built classes (a shell function: this test runs inside the build that would make the jar, so the
 * README's {@code ./mvnw -q package -DskipTests} line is replaced by naming the jar). An instance started in the
 * foreground (the restore) is started in the background so the script can go on; one started without a port gets a
 * free one. Between the blocks the test does what the prose says the operator does (the old key's file is
 * {@code kek-old}, the key file kept for the backup is {@code onion-kek}) and checks the restored instance.
 */
@Scenario
class FleetDocsTest {

    @TempDir
    Path work;

    @Test
    void theFleetMigrationKeyRotationAndBackupBlocksWorkAsPasted() throws Exception {
        DocBlocks readme = DocBlocks.read(Path.of("README.md"));
        DocBlocks deployment = DocBlocks.read(Path.of("docs", "DEPLOYMENT.md"));
        List<String> fleet = readme.bashUnder("Fleet: many instances");
        assertThat(fleet).as("start two instances, then stop them").hasSize(2);
        String start = fleet.get(0);
        assertThat(start).startsWith("./mvnw -q package -DskipTests && JAR=$(ls target/onion-relay-*.jar");
        start = "JAR=onion-relay.jar" + start.substring(start.indexOf('\n'));

        try (PgCluster pg = PgCluster.create()) {
            PastedShell shell = new PastedShell(work);
            int restoredApi = shell.unusedPort();
            int restoredManagement = shell.unusedPort();
            shell.port(5432, pg.port())
                    .freePorts(8080, 8081, 9090, 9091, 7002, 7003)
                    .replace(
                            "--spring.datasource.password=onion\n",
                            "--spring.datasource.password=" + PgCluster.PASSWORD + "\n")
                    .replace("--spring.datasource.password=…", "--spring.datasource.password=" + PgCluster.PASSWORD)
                    .replace("PGPASSWORD=…", "PGPASSWORD=" + PgCluster.PASSWORD)
                    .replace("--host=db", "--host=127.0.0.1 --port=5432")
                    .replace("db:5432", "127.0.0.1:5432")
                    .env("ONION_CP", System.getProperty("java.class.path"))
                    .env("ONION_MAIN", OnionRelayApplication.class.getName())
                    .env("FREE_API_PORT", Integer.toString(restoredApi))
                    .env("FREE_MANAGEMENT_PORT", Integer.toString(restoredManagement))
                    .prelude(JAVA_JAR);
            String printed = shell.run(
                    Duration.ofMinutes(5),
                    List.of(
                            Map.entry("fleet", start),
                            Map.entry("members", "API=http://127.0.0.1:8080\n" + deployment.oneBashUnder("Membership")),
                            Map.entry("stop", fleet.get(1)),
                            Map.entry("migrate", deployment.oneBashUnder("Migrating as a step of its own")),
                            Map.entry(
                                    "new key",
                                    "cp kek kek-old\n"
                                            + deployment
                                                    .bashUnder("Rotating the key-encryption key")
                                                    .get(0)),
                            Map.entry(
                                    "reseal",
                                    deployment
                                            .bashUnder("Rotating the key-encryption key")
                                            .get(1)),
                            Map.entry(
                                    "backup",
                                    "cp kek-new onion-kek\nJAVA_BACKGROUND=restored.log\n"
                                            + deployment.oneBashUnder("Backup and restore")),
                            Map.entry("restored", RESTORED_CHECK)));
            Map<String, List<String>> out = PastedShell.sections(printed);
            String why = "printed:%n" + printed + "%nlogs: " + logs();

            List<String> fleetLines = out.get("fleet");
            assertThat(fleetLines).as(why).hasSize(5);
            assertThat(fleetLines.get(0))
                    .as("a and b, both LIVE")
                    .contains("\"name\":\"a\"", "\"name\":\"b\"")
                    .doesNotContain("SUSPECT");
            assertThat(fleetLines.get(1)).contains("\"name\":\"to-b\"");
            assertThat(fleetLines.get(2)).contains("\"name\":\"front\"");
            assertThat(fleetLines.get(3))
                    .as("through front on a and to-b on b to b's API, which answers as self")
                    .containsPattern("\"name\":\"b\"[^}]*\"self\":true");
            assertThat(fleetLines.get(4)).as("where each instance listens").contains("127.0.0.2", "127.0.0.3");

            List<String> members = out.get("members");
            assertThat(members).as(why).hasSize(2);
            assertThat(members.get(0)).contains("\"self\":true", "\"state\":\"LIVE\"");
            assertThat(members.get(1)).contains("\"instance\":\"a\"", "\"memberCount\":2");

            assertThat(String.join("\n", out.get("migrate")))
                    .as(why)
                    .contains("the store's schema is at version " + newestMigration());
            assertThat(String.join("\n", out.get("reseal")))
                    .as(why)
                    .containsPattern(
                            Pattern.compile(
                                    "the fleet seals under key id \\S+: re-sealed \\d+ credentials and \\d+ settings; key ids in use: \\[\\S+\\]"));
            List<String> restored = out.get("restored");
            assertThat(restored).as(why).hasSize(1);
            assertThat(restored.get(0))
                    .as("the restored instance serves the same relays")
                    .contains("\"name\":\"to-b\"", "\"name\":\"front\"");
        }
    }

    /**
     * {@code java -jar <any jar>} runs the built classes, as the jar would; an instance the docs start without a port
     * gets a free one, and one started while {@code JAVA_BACKGROUND} names a log goes to the background (pid in
     * {@code RESTORED}).
     */
    private static final String JAVA_JAR = """
            java() {
              if [ "$1" != -jar ]; then command java "$@"; return; fi
              shift 2
              local extra=()
              [[ " $* " == *" --server.port="* ]] || extra+=(--server.port=$FREE_API_PORT)
              [[ " $* " == *" --management.server.port="* ]] || extra+=(--management.server.port=$FREE_MANAGEMENT_PORT)
              local run=(java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC --enable-native-access=ALL-UNNAMED \\
                -cp "$ONION_CP" "$ONION_MAIN" --spring.main.banner-mode=off "$@" "${extra[@]}")
              # started with & the function runs in a subshell: exec, so that $! is the JVM's pid, as with the jar
              if [ "$BASHPID" != "$$" ]; then exec "${run[@]}"; fi
              if [ -n "$JAVA_BACKGROUND" ]; then command "${run[@]}" > "$JAVA_BACKGROUND" 2>&1 & RESTORED=$!
              else command "${run[@]}"; fi
            }
            """;

    /** The restored instance: ready, and its relays (with the admin token it takes from the restored store). */
    private static final String RESTORED_CHECK = """
            for i in $(seq 1 300); do
              kill -0 $RESTORED || break
              curl -sf http://127.0.0.1:$FREE_MANAGEMENT_PORT/actuator/health/readiness >/dev/null && break; sleep 0.5
            done
            curl -s -H "Authorization: Bearer $(cat data/admin.token)" http://127.0.0.1:$FREE_API_PORT/relays; echo
            kill $RESTORED; wait $RESTORED
            """;

    private static int newestMigration() throws Exception {
        try (Stream<Path> files = Files.list(Path.of("src/main/resources/db/migration"))) {
            return files.map(f -> f.getFileName().toString())
                    .map(name -> Integer.parseInt(name.substring(1, name.indexOf("__"))))
                    .max(Integer::compare)
                    .orElseThrow();
        }
    }

    private String logs() throws Exception {
        StringBuilder text = new StringBuilder();
        for (String name : List.of("a.log", "b.log", "restored.log")) {
            Path log = work.resolve(name);
            if (Files.exists(log)) {
                String content = Files.readString(log);
                text.append("\n--- ")
                        .append(name)
                        .append('\n')
                        .append(content, Math.max(0, content.length() - 3000), content.length());
            }
        }
        return text.toString();
    }
}
