package dev.onionrelay.docs;

import static org.assertj.core.api.Assertions.assertThat;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * The {@code helm install} command of a documentation block, read as Helm reads it (release, chart, namespace,
 * {@code --set} and {@code -f}/{@code --values}), and done the way this machine can: there is no {@code helm} binary
 * and no cluster, so the chart is rendered ({@code helm template}) and linted ({@code helm lint --strict}) by real Helm
 * in-process (helm-java) with exactly those values.
 */
record HelmBlock(String release, Path chart, String namespace, Map<String, String> sets, List<Path> valuesFiles) {

    // helm-java renders for Kubernetes 1.20 unless told; the chart needs a current one.
    private static final String KUBE_VERSION = "1.30.0";

    /** The first {@code helm install} in the block (continuation lines joined). */
    static HelmBlock parse(String block) {
        String joined = block.replace("\\\n", " ");
        String command = joined.lines()
                .map(String::strip)
                .filter(line -> line.startsWith("helm install "))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no helm install in:\n" + block));
        List<String> words = List.of(command.split("\\s+"));
        List<String> positional = new ArrayList<>();
        Map<String, String> sets = new LinkedHashMap<>();
        List<Path> files = new ArrayList<>();
        String namespace = "default";
        for (int i = 2; i < words.size(); i++) {
            String word = words.get(i);
            switch (word) {
                case "--namespace", "-n" -> namespace = words.get(++i);
                case "--set" -> {
                    String[] pair = words.get(++i).split("=", 2);
                    sets.put(pair[0], pair[1]);
                }
                case "-f", "--values" -> files.add(Path.of(words.get(++i)));
                case "--create-namespace", "--wait", "--atomic" -> {}
                default -> {
                    assertThat(word)
                            .as("a flag this reader knows, in: %s", command)
                            .doesNotStartWith("-");
                    positional.add(word);
                }
            }
        }
        assertThat(positional).as("release and chart in: %s", command).hasSize(2);
        return new HelmBlock(positional.get(0), Path.of(positional.get(1)), namespace, sets, files);
    }

    /** {@code helm template} with the block's release, namespace and values: every manifest as maps and lists. */
    List<Map<String, Object>> render(Path... moreValuesFiles) {
        TemplateCommand template = new Helm(chart)
                .template()
                .withName(release)
                .withNamespace(namespace)
                .withKubeVersion(KUBE_VERSION)
                // helm-java's template asks a cluster for the token Secret (lookup), where helm template does not.
                .set("apiTokens.reuseExisting", false);
        for (Path file : valuesFiles) {
            template = template.withValuesFile(file);
        }
        for (Path file : moreValuesFiles) {
            template = template.withValuesFile(file);
        }
        for (Map.Entry<String, String> set : sets.entrySet()) {
            template = template.set(set.getKey(), set.getValue());
        }
        List<Map<String, Object>> manifests = new ArrayList<>();
        for (Object document : yaml().loadAll(template.call())) {
            if (document != null) {
                manifests.add(map(document));
            }
        }
        return manifests;
    }

    /** {@code helm lint --strict} of a copy of the chart whose values are the chart's with the block's over them. */
    LintResult lint(Path work) {
        Path copy = work.resolve("lint-" + release).resolve(chart.getFileName());
        copyTree(chart, copy);
        try {
            Map<String, Object> values = map(yaml().load(Files.readString(chart.resolve("values.yaml"))));
            for (Path file : valuesFiles) {
                merge(values, map(yaml().load(Files.readString(file))));
            }
            sets.forEach((key, value) -> set(values, key, value));
            Files.writeString(copy.resolve("values.yaml"), new Yaml().dump(values));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new Helm(copy).lint().strict().call();
    }

    /** {@code --set a.b=c} into nested maps, with Helm's reading of numbers and booleans. */
    private static void set(Map<String, Object> values, String path, String value) {
        String[] keys = path.split("\\.");
        Map<String, Object> current = values;
        for (int i = 0; i < keys.length - 1; i++) {
            current = map(current.computeIfAbsent(keys[i], k -> new LinkedHashMap<String, Object>()));
        }
        Object typed = value;
        if (value.matches("-?\\d+")) {
            typed = Long.parseLong(value);
        } else if (value.equals("true") || value.equals("false")) {
            typed = Boolean.parseBoolean(value);
        }
        current.put(keys[keys.length - 1], typed);
    }

    static void merge(Map<String, Object> into, Map<String, Object> from) {
        from.forEach((key, value) -> {
            if (value instanceof Map<?, ?> nested && into.get(key) instanceof Map<?, ?> existing) {
                merge(map(existing), map(nested));
            } else {
                into.put(key, value);
            }
        });
    }

    static Yaml yaml() {
        // The safe constructor builds only maps, lists and scalars, whatever tags the text carries.
        return new Yaml(new SafeConstructor(new LoaderOptions()));
    }

    /** The manifest of that kind and name. */
    static Map<String, Object> named(List<Map<String, Object>> manifests, String kind, String name) {
        return manifests.stream()
                .filter(m -> kind.equals(m.get("kind")))
                .filter(m -> name.equals(get(m, "metadata.name")))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no " + kind + " " + name + " rendered; rendered: "
                        + manifests.stream()
                                .map(m -> m.get("kind") + " " + get(m, "metadata.name"))
                                .toList()));
    }

    /** The value at a dotted path ({@code spec.template.spec.containers.0.image}); list elements by index. */
    static Object get(Object root, String path) {
        Object current = root;
        for (String key : path.split("\\.")) {
            if (current instanceof Map<?, ?> map) {
                current = map.get(key);
            } else if (current instanceof List<?> list) {
                current = list.get(Integer.parseInt(key));
            } else {
                return null;
            }
        }
        return current;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Object value) {
        return (Map<String, Object>) value;
    }

    @SuppressWarnings("unchecked")
    static List<Object> list(Object value) {
        return value == null ? List.of() : (List<Object>) value;
    }

    private static void copyTree(Path from, Path to) {
        try (Stream<Path> paths = Files.walk(from)) {
            for (Path source : paths.toList()) {
                Path target = to.resolve(from.relativize(source).toString());
                if (Files.isDirectory(source)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(source, target);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
