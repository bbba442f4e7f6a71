package dev.onionrelay.architecture;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;

/**
 * The package layout holds, read from the compiled classes (every type a class refers to counts, fully qualified names
 * in code as much as imports):
 *
 * <ul>
 *   <li>the engine packages ({@code layer}, {@code relay}, {@code registry}, {@code credential}, {@code store}, {@code
 *       fleet}) use no Spring, so that they can be used, tested and replaced without a web container;
 *   <li>Spring code does not build pipelines: only the engine touches Netty's channel types;
 *   <li>no cycle between top-level packages.
 * </ul>
 */
@AnalyzeClasses(packages = "dev.onionrelay", importOptions = ImportOption.DoNotIncludeTests.class)
class PackageLayoutTest {

    private static final String[] ENGINE = {
        "dev.onionrelay.layer..",
        "dev.onionrelay.relay..",
        "dev.onionrelay.registry..",
        "dev.onionrelay.credential..",
        "dev.onionrelay.store..",
        "dev.onionrelay.fleet.."
    };

    @ArchTest
    static final ArchRule engineUsesNoSpring = noClasses()
            .that()
            .resideInAnyPackage(ENGINE)
            .should()
            .dependOnClassesThat()
            .resideInAnyPackage("org.springframework..")
            .because("the engine runs and is tested without Spring; Spring is wiring, HTTP and observability");

    @ArchTest
    static final ArchRule springCodeTouchesNoPipeline = noClasses()
            .that()
            .resideInAnyPackage("dev.onionrelay.api..", "dev.onionrelay.boot..", "dev.onionrelay.observe..")
            .should()
            .dependOnClassesThat()
            .resideInAnyPackage("io.netty.channel..", "io.netty.handler..")
            .because("pipelines belong to the engine (STYLE.md: Spring code does not touch pipelines)");

    @ArchTest
    static final ArchRule noCycleBetweenTopLevelPackages =
            slices().matching("dev.onionrelay.(*)..").should().beFreeOfCycles();
}
