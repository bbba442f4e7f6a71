package dev.onionrelay.support;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;

/**
 * A scenario test: it tells a behaviour with real peers (sockets, the service on a real port, service processes, a
 * PostgreSQL cluster, Squid, haproxy, stunnel, Prometheus, Python or {@code openssl} clients). {@code ./mvnw verify}
 * runs these with everything else; the fast loop ({@code ./mvnw test -Pfast}) leaves them out, so that it runs in
 * under a minute with no server or external tool installed. {@code ScenarioTagTest} checks that a test using such a
 * peer carries this annotation.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@Tag("scenario")
public @interface Scenario {}
