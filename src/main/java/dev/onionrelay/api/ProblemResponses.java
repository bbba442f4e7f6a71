package dev.onionrelay.api;

import org.apache.catalina.Context;
import org.apache.catalina.Host;
import org.apache.catalina.Lifecycle;
import org.apache.catalina.Valve;
import org.apache.catalina.core.StandardHost;
import org.apache.catalina.valves.ErrorReportValve;
import org.apache.tomcat.util.descriptor.web.ErrorPage;
import org.springframework.boot.actuate.autoconfigure.web.ManagementContextConfiguration;
import org.springframework.boot.actuate.autoconfigure.web.ManagementContextType;
import org.springframework.boot.tomcat.servlet.TomcatServletWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.core.Ordered;

/**
 * Makes every error answer of a port {@code application/problem+json}, including the ones no controller sees: the
 * servlet container's error pages are dropped, so that its rejections and every {@code sendError} reach {@link
 * ProblemErrorReportValve}. Serves the API port (found by component scan) and the management port (listed in
 * {@code META-INF/spring/...ManagementContextConfiguration.imports}), which is a separate Tomcat. {@code /error} itself
 * is nothing on either port ({@link ErrorPathFilter}).
 */
@ManagementContextConfiguration(value = ManagementContextType.CHILD, proxyBeanMethods = false)
public class ProblemResponses {

    @Bean
    WebServerFactoryCustomizer<TomcatServletWebServerFactory> problemErrorReports() {
        return factory -> factory.addContextCustomizers(ProblemResponses::reportProblems);
    }

    /** After the API port's token check: without a token, {@code /error} is a 401 like every other path there. */
    @Bean
    FilterRegistrationBean<ErrorPathFilter> errorPathFilter() {
        FilterRegistrationBean<ErrorPathFilter> registration = new FilterRegistrationBean<>(new ErrorPathFilter());
        registration.setOrder(Ordered.HIGHEST_PRECEDENCE + 25);
        return registration;
    }

    private static void reportProblems(Context context) {
        for (ErrorPage page : context.findErrorPages()) {
            context.removeErrorPage(page);
        }
        if (context.getParent() instanceof StandardHost host) {
            host.setErrorReportValveClass(ProblemErrorReportValve.class.getName());
            // Valves added by other customizers are still to come; the host drops them just before it starts.
            host.addLifecycleListener(event -> {
                if (Lifecycle.BEFORE_START_EVENT.equals(event.getType())) {
                    keepOnlyProblemReports(host);
                }
            });
        }
    }

    private static void keepOnlyProblemReports(Host host) {
        for (Valve valve : host.getPipeline().getValves()) {
            if (valve instanceof ErrorReportValve && !(valve instanceof ProblemErrorReportValve)) {
                host.getPipeline().removeValve(valve);
            }
        }
    }
}
