package dev.onionrelay.observe;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.config.MeterFilterReply;
import java.util.Set;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Keeps the whole {@code /actuator/prometheus} exposition clean for {@code promtool check metrics}, not only our
 * {@code onion_*} families: meters registered by Micrometer and Spring Boot without a description get one (their
 * name), and the three JVM/process meters whose Prometheus names promtool rejects (a unit abbreviation in the name,
 * a {@code _count} suffix on a gauge) are left out; their information is in other meters
 * ({@code process_cpu_usage}, {@code jvm_compilation_time}, {@code system_cpu_usage}).
 */
@Configuration(proxyBeanMethods = false)
public class PrometheusLintFilter {

    static final Set<String> LINT_FAILING = Set.of("jvm.compilation.time", "process.cpu.time", "system.cpu.count");

    @Bean
    MeterFilter prometheusLint() {
        return new MeterFilter() {
            @Override
            public MeterFilterReply accept(Meter.Id id) {
                return LINT_FAILING.contains(id.getName()) ? MeterFilterReply.DENY : MeterFilterReply.NEUTRAL;
            }

            @Override
            public Meter.Id map(Meter.Id id) {
                if (id.getDescription() != null && !id.getDescription().isBlank()) {
                    return id;
                }
                return new Meter.Id(
                        id.getName(),
                        io.micrometer.core.instrument.Tags.of(id.getTagsAsIterable()),
                        id.getBaseUnit(),
                        id.getName().replace('.', ' '),
                        id.getType());
            }
        };
    }
}
