package dev.onionrelay.deploy;

import com.marcnuri.helm.DryRun;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.InstallCommand;
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
import java.util.Objects;
import java.util.stream.Stream;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * The Helm chart in {@code helm/onion-relay}, linted and rendered by real Helm (helm-java's native library) and read
 * back as plain maps and lists.
 */
final class Chart {

    static final Path DIRECTORY = Path.of("helm", "onion-relay");
    static final Path ALL_FEATURES = DIRECTORY.resolve("ci").resolve("all-features-values.yaml");
    static final String RELEASE = "edge";
    static final String NAMESPACE = "relays";
    // helm-java renders for Kubernetes 1.20 unless told; the chart needs a current one.
    private static final String KUBE_VERSION = "1.30.0";

    private Chart() {}

    /**
     * {@code helm template} with these values files over the chart's values.yaml. The chart's lookup of its token
     * Secret is switched off: helm-java's template asks a cluster for it, where {@code helm template} does not.
     */
    static Rendered render(Path... valuesFiles) {
        TemplateCommand template = new Helm(DIRECTORY)
                .template()
                .withName(RELEASE)
                .withNamespace(NAMESPACE)
                .withKubeVersion(KUBE_VERSION)
                .set("apiTokens.reuseExisting", false);
        for (Path file : valuesFiles) {
            template = template.withValuesFile(file);
        }
        return new Rendered(parseAll(template.call()));
    }

    /** The NOTES.txt an install prints, from a client-side dry run. */
    static String notes(Path... valuesFiles) {
        InstallCommand install = new Helm(DIRECTORY)
                .install()
                .withName(RELEASE)
                .withNamespace(NAMESPACE)
                .withKubeVersion(KUBE_VERSION)
                .dryRun()
                .withDryRunOption(DryRun.CLIENT)
                .clientOnly();
        for (Path file : valuesFiles) {
            install = install.withValuesFile(file);
        }
        String output = install.call().getOutput();
        return output.substring(output.indexOf("NOTES:"));
    }

    /** {@code helm lint --strict} of the chart as it is. */
    static LintResult lint() {
        return new Helm(DIRECTORY).lint().strict().call();
    }

    /**
     * {@code helm lint --strict} of a copy of the chart whose values.yaml is the chart's merged with {@code overrides}
     * (lint takes no values files).
     */
    static LintResult lintWith(Path overrides, Path workDirectory) {
        Path copy = workDirectory.resolve("onion-relay");
        copyTree(DIRECTORY, copy);
        Map<String, Object> values = map(parse(read(DIRECTORY.resolve("values.yaml"))));
        deepMerge(values, map(parse(read(overrides))));
        write(copy.resolve("values.yaml"), new Yaml().dump(values));
        return new Helm(copy).lint().strict().call();
    }

    /** The manifests of one render, with lookups by kind and name. */
    record Rendered(List<Map<String, Object>> manifests) {

        List<Map<String, Object>> all(String kind) {
            return manifests.stream().filter(m -> kind.equals(m.get("kind"))).toList();
        }

        Map<String, Object> one(String kind) {
            List<Map<String, Object>> found = all(kind);
            if (found.size() != 1) {
                throw new AssertionError("expected one " + kind + ", rendered " + found.size());
            }
            return found.get(0);
        }

        Map<String, Object> named(String kind, String name) {
            return all(kind).stream()
                    .filter(m -> name.equals(get(m, "metadata.name")))
                    .findFirst()
                    .orElseThrow(() -> new AssertionError("no " + kind + " named " + name));
        }

        List<String> kinds() {
            return manifests.stream().map(m -> (String) m.get("kind")).toList();
        }

        /** The Deployment or StatefulSet. */
        Map<String, Object> workload() {
            List<Map<String, Object>> found = Stream.concat(all("Deployment").stream(), all("StatefulSet").stream())
                    .toList();
            if (found.size() != 1) {
                throw new AssertionError("expected one Deployment or StatefulSet, rendered " + found.size());
            }
            return found.get(0);
        }

        Map<String, Object> podSpec() {
            return map(get(workload(), "spec.template.spec"));
        }

        Map<String, Object> container() {
            return map(list(podSpec().get("containers")).get(0));
        }

        /** The application.yml the ConfigMap carries, as text. */
        String applicationYaml() {
            return (String) get(one("ConfigMap"), "data.application.yml");
        }

        Map<String, Object> applicationConfig() {
            return map(parse(applicationYaml()));
        }

        /** Container port number by port name. */
        Map<String, Integer> containerPorts() {
            Map<String, Integer> ports = new LinkedHashMap<>();
            for (Object port : list(container().get("ports"))) {
                ports.put((String) map(port).get("name"), (Integer) map(port).get("containerPort"));
            }
            return ports;
        }
    }

    // ---- reading YAML as maps and lists

    static List<Map<String, Object>> parseAll(String yaml) {
        List<Map<String, Object>> documents = new ArrayList<>();
        for (Object document : yaml().loadAll(yaml)) {
            if (document != null) {
                documents.add(map(document));
            }
        }
        return documents;
    }

    static Object parse(String yaml) {
        return yaml().load(yaml);
    }

    private static Yaml yaml() {
        // The safe constructor builds only maps, lists and scalars, whatever tags the text carries.
        return new Yaml(new SafeConstructor(new LoaderOptions()));
    }

    /**
     * The value at a dotted path such as {@code spec.template.spec.containers.0.ports}; list elements by index. Keys
     * that contain dots are matched whole first ({@code data.application.yml}).
     */
    static Object get(Object root, String path) {
        Object current = root;
        String rest = path;
        while (!rest.isEmpty()) {
            if (current instanceof Map<?, ?> map && map.containsKey(rest)) {
                return map.get(rest);
            }
            int dot = rest.indexOf('.');
            String key = dot < 0 ? rest : rest.substring(0, dot);
            rest = dot < 0 ? "" : rest.substring(dot + 1);
            if (current instanceof Map<?, ?> map) {
                current = map.get(key);
            } else if (current instanceof List<?> list) {
                current = list.get(Integer.parseInt(key));
            } else {
                throw new AssertionError("no '" + key + "' in " + path);
            }
            if (current == null) {
                return null;
            }
        }
        return current;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Object value) {
        return (Map<String, Object>) Objects.requireNonNull(value, "expected a map, found nothing");
    }

    @SuppressWarnings("unchecked")
    static List<Object> list(Object value) {
        return value == null ? List.of() : (List<Object>) value;
    }

    @SuppressWarnings("unchecked")
    static void deepMerge(Map<String, Object> into, Map<String, Object> from) {
        from.forEach((key, value) -> {
            if (value instanceof Map<?, ?> nested && into.get(key) instanceof Map<?, ?> existing) {
                deepMerge((Map<String, Object>) existing, (Map<String, Object>) nested);
            } else {
                into.put(key, value);
            }
        });
    }

    static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void write(Path file, String text) {
        try {
            Files.createDirectories(file.getParent());
            Files.writeString(file, text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
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
