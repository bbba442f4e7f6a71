package dev.onionrelay.support;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A Prometheus text exposition, parsed just enough for assertions: samples with their labels, and family types. */
public record Exposition(List<Sample> samples, Map<String, String> types) {

    /** One sample line: metric name, labels, value. */
    public record Sample(String name, Map<String, String> labels, double value) {}

    private static final Pattern SAMPLE = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{(.*)})?\\s+(\\S+).*");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"");
    private static final Pattern TYPE = Pattern.compile("# TYPE (\\S+) (\\S+)");

    public static Exposition parse(String text) {
        List<Sample> samples = new ArrayList<>();
        Map<String, String> types = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            Matcher type = TYPE.matcher(line);
            if (type.matches()) {
                types.put(type.group(1), type.group(2));
                continue;
            }
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            Matcher sample = SAMPLE.matcher(line);
            if (!sample.matches()) {
                throw new IllegalArgumentException("not a sample line: " + line);
            }
            Map<String, String> labels = new TreeMap<>();
            if (sample.group(2) != null) {
                Matcher label = LABEL.matcher(sample.group(2));
                while (label.find()) {
                    labels.put(label.group(1), label.group(2));
                }
            }
            samples.add(new Sample(sample.group(1), labels, Double.parseDouble(sample.group(3))));
        }
        return new Exposition(samples, types);
    }

    /** Samples of one metric name whose labels include {@code match}. */
    public List<Sample> samples(String name, Map<String, String> match) {
        return samples.stream()
                .filter(s -> s.name().equals(name))
                .filter(s -> s.labels().entrySet().containsAll(match.entrySet()))
                .toList();
    }

    /** The value of the one sample of {@code name} with exactly these labels. */
    public double value(String name, Map<String, String> labels) {
        return samples.stream()
                .filter(s -> s.name().equals(name) && s.labels().equals(labels))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no sample " + name + labels))
                .value();
    }

    /** The sum of the samples of {@code name} whose labels include {@code match}: a metric over all its series. */
    public double sum(String name, Map<String, String> match) {
        return samples(name, match).stream().mapToDouble(Sample::value).sum();
    }

    /** What {@code management} (a service's management port) exposes at {@code /actuator/prometheus} now. */
    public static Exposition scrape(ApiClient management) {
        return parse(management.get("/actuator/prometheus").body());
    }
}
