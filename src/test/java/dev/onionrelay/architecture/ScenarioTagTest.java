package dev.onionrelay.architecture;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;
import dev.onionrelay.support.Scenario;
import java.util.Set;

/**
 * The fast loop ({@code ./mvnw test -Pfast}) stays fast and needs no server: every test class that starts the service,
 * a service process, a database, a proxy, a Python or {@code openssl} peer, or Prometheus is a {@link Scenario}, and
 * so left out of it. A new scenario test that forgets the annotation fails here, not in a contributor's minute-long
 * loop on a machine without PostgreSQL.
 */
@AnalyzeClasses(packages = "dev.onionrelay", importOptions = ImportOption.OnlyIncludeTests.class)
class ScenarioTagTest {

    /** The support classes that stand for a real peer, server or process. */
    private static final String[] REAL_PEERS = {
        "dev.onionrelay.support.RunningService",
        "dev.onionrelay.support.ServiceProcess",
        "dev.onionrelay.support.Fleet",
        "dev.onionrelay.support.PgCluster",
        "dev.onionrelay.support.SquidProcess",
        "dev.onionrelay.support.HaproxyProcess",
        "dev.onionrelay.support.PythonPeer",
        "dev.onionrelay.support.LocalServers",
        "dev.onionrelay.support.Onions",
        "dev.onionrelay.support.WiredOnion",
        "dev.onionrelay.observe.PrometheusTools",
    };

    private static final Set<String> REAL = Set.of(REAL_PEERS);

    /** The one call on those classes that starts nothing: relay options with the tests' timeouts. */
    private static final String PURE_HELPER = "dev.onionrelay.support.Onions.options(";

    /** A top-level test class that refers to a real peer. */
    private static final DescribedPredicate<JavaClass> TEST_WITH_A_REAL_PEER = DescribedPredicate.describe(
            "test classes that use a real peer, server or process of support/",
            c -> c.getSimpleName().endsWith("Test") && c.isTopLevelClass() && usesRealPeer(c));

    private static boolean usesRealPeer(JavaClass test) {
        // Lambdas compile into the class itself, so their dependencies count here too.
        return test.getDirectDependenciesFromSelf().stream()
                .filter(d -> !d.getDescription().contains(PURE_HELPER))
                .anyMatch(d -> REAL.contains(d.getTargetClass().getFullName()));
    }

    @ArchTest
    static final ArchRule testsWithRealPeersAreScenarios = classes()
            .that(TEST_WITH_A_REAL_PEER)
            .should()
            .beAnnotatedWith(Scenario.class)
            .because("./mvnw test -Pfast must run without servers or external tools, in under a minute");
}
