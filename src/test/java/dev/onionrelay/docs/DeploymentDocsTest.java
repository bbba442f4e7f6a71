package dev.onionrelay.docs;

import static dev.onionrelay.docs.HelmBlock.get;
import static dev.onionrelay.docs.HelmBlock.list;
import static dev.onionrelay.docs.HelmBlock.map;
import static dev.onionrelay.docs.HelmBlock.named;
import static org.assertj.core.api.Assertions.assertThat;

import com.marcnuri.helm.LintResult;
import dev.onionrelay.boot.OnionProperties;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.actuate.autoconfigure.web.server.ManagementServerProperties;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.ConfigurationPropertySources;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.env.SystemEnvironmentPropertySource;

/**
 * The blocks of docs/DEPLOYMENT.md that need Docker, Helm or a cluster, checked the way this machine can: there is no
 * Docker engine, no {@code helm} binary and no cluster.
 *
 * <ul>
 *   <li>{@code docker run} (Container image): checked statically against the Dockerfile and the configuration. Every
 *       published port is one the image exposes; the API and the unauthenticated management port are published on the
 *       host's loopback only; relay ports are published only together with the policy that lets relays listen on
 *       every interface (the image keeps the loopback default); volumes are the image's VOLUME; {@code --tmpfs} is the
 *       JVM's tmpdir; {@code docker exec}'s path is in the volume; every {@code -e} is a real property of the service,
 *       bound by Spring's own binder from an environment variable, with the value the prose says.
 *   <li>{@code helm install} (Helm chart, the fleet): the command is read as Helm reads it (release, chart, namespace,
 *       {@code --set}) and run as {@code helm template} and {@code helm lint --strict} by real Helm in-process
 *       (helm-java); the rendered objects say what the block and its prose rely on: the image pushed, the token Secret
 *       and key the next block reads, the Services and ports it port-forwards and connects to, the policy that admits
 *       its first relay, a fleet's StatefulSet, database password and key file from the Secret the block creates.
 *   <li>The values fragment (Declarative relays) is rendered by the chart and the rendered {@code application.yml}
 *       holds what the "renders" block shows.
 * </ul>
 *
 * The blocks that need only the JDK and PostgreSQL run for real in {@link FleetDocsTest}.
 */
class DeploymentDocsTest {

    private static final Path DEPLOYMENT = Path.of("docs", "DEPLOYMENT.md");
    private static final Path DOCKERFILE = Path.of("Dockerfile");
    private static final int API_PORT = 8080;
    private static final int MANAGEMENT_PORT = 9090;

    @TempDir
    Path work;

    private final DocBlocks docs = DocBlocks.read(DEPLOYMENT);

    @Test
    void dockerRunPublishesWhatTheImageServesAndTheManagementPortOnLoopbackOnly() throws Exception {
        String dockerfile = Files.readString(DOCKERFILE);
        List<Integer> exposed = exposedPorts(dockerfile);
        String volume = matchOne(dockerfile, "(?m)^VOLUME \\[\"([^\"]+)\"\\]");
        String toolOptions = matchOne(dockerfile, "(?m)^ENV JAVA_TOOL_OPTIONS=\"([^\"]+)\"");
        String image = null;
        List<DockerRun> runs = new ArrayList<>();
        for (String block : docs.bashUnder("Container image")) {
            String joined = block.replace("\\\n", " ");
            Matcher build = Pattern.compile("docker build -t (\\S+) \\.").matcher(joined);
            if (build.find()) {
                image = build.group(1);
            }
            joined.lines()
                    .map(String::strip)
                    .filter(l -> l.startsWith("docker run "))
                    .forEach(l -> runs.add(DockerRun.parse(l)));
            Matcher exec = Pattern.compile("docker exec \\S+ cat (\\S+)").matcher(joined);
            while (exec.find()) {
                assertThat(exec.group(1))
                        .as("docker exec reads from the volume")
                        .startsWith(volume + "/");
            }
        }
        assertThat(runs).as("docker run commands in %s", DEPLOYMENT).hasSize(3);
        assertThat(application("onion.policy.listen-hosts"))
                .as("the image keeps the service's loopback-only listen policy (application.yml)")
                .isEqualTo(List.of("loopback"));
        for (DockerRun run : runs) {
            assertThat(run.image()).as("%s runs the image built above", run).isEqualTo(image);
            assertThat(run.volumes().values()).as("%s: volumes", run).containsOnly(volume);
            boolean relaysOnEveryInterface = false;
            for (Map.Entry<String, String> env : run.env().entrySet()) {
                assertIsAPropertyOfTheService(env.getKey(), env.getValue());
                if (env.getKey().startsWith("ONION_POLICY_LISTENHOSTS_")) {
                    relaysOnEveryInterface |= env.getValue().equals("*");
                }
            }
            for (Published port : run.published()) {
                assertThat(exposed)
                        .as("%s publishes %s, which the image exposes", run, port)
                        .containsAll(port.container());
                if (port.container().contains(MANAGEMENT_PORT)
                        || port.container().contains(API_PORT)) {
                    assertThat(port.hostAddress())
                            .as("%s: the API and the unauthenticated management port on the host's loopback only", run)
                            .isEqualTo("127.0.0.1");
                } else {
                    assertThat(relaysOnEveryInterface)
                            .as("%s publishes relay ports %s: relays must be allowed to listen on 0.0.0.0", run, port)
                            .isTrue();
                }
            }
            if (run.tmpfs().contains("/tmp")) {
                assertThat(toolOptions).as("the JVM's tmpdir is the tmpfs").contains("-Djava.io.tmpdir=/tmp");
            }
        }
    }

    @Test
    void theHelmInstallRendersLintsAndServesWhatTheNextBlockUses() {
        List<String> blocks = docs.bashUnder("Helm chart");
        assertThat(blocks).as("install, then the NOTES in short").hasSizeGreaterThanOrEqualTo(2);
        String install = blocks.get(0);
        HelmBlock helm = HelmBlock.parse(install);
        assertLints(helm);
        List<Map<String, Object>> manifests = helm.render();
        String pushed = matchOne(install, "docker push (\\S+)");
        assertThat(matchOne(install, "docker build -t (\\S+) \\.")).isEqualTo(pushed);
        Map<String, Object> workload = workload(manifests);
        assertThat(get(workload, "spec.template.spec.containers.0.image"))
                .as("the chart runs the image the block pushed")
                .isEqualTo(pushed);

        String notes = blocks.get(1);
        assertKubectlTargetsExist(notes, helm, manifests);
        Map<String, Object> config = applicationYaml(manifests);
        // the first relay: listen 0.0.0.0:7000, allowed by the rendered policy, exposed by the relays Service
        Matcher relay = Pattern.compile("\"listen\":\\{\"host\":\"([^\"]+)\",\"port\":(\\d+)}")
                .matcher(notes);
        assertThat(relay.find()).as("the first relay's listen").isTrue();
        assertThat(list(get(config, "onion.policy.listen-hosts"))).contains("*");
        assertThat(relay.group(1)).isEqualTo("0.0.0.0");
        int relayPort = Integer.parseInt(relay.group(2));
        assertThat(String.valueOf(get(config, "onion.policy.listen-ports"))).contains(String.valueOf(relayPort));
        String relaysService = helm.release() + "-onion-relay-relays";
        assertThat(servicePorts(named(manifests, "Service", relaysService))).contains(relayPort);
        assertThat(notes)
                .as("the identity names the Service the client connects to")
                .contains("\"dnsNames\":[\"" + relaysService + "\",\"" + relaysService + "." + helm.namespace()
                        + ".svc\"]")
                .contains("https://" + relaysService + ":" + relayPort + "/");
    }

    @Test
    void theValuesFragmentRendersTheApplicationYamlShown() throws Exception {
        List<DocBlocks.Block> yaml = docs.under("Declarative relays and file credentials").stream()
                .filter(b -> b.language().equals("yaml"))
                .toList();
        assertThat(yaml).as("values, then what they render").hasSize(2);
        Path values = work.resolve("values.yaml");
        Files.writeString(values, yaml.get(0).text());
        HelmBlock helm = new HelmBlock("onion", Path.of("helm", "onion-relay"), "relays", Map.of(), List.of(values));
        assertLints(helm);
        List<Map<String, Object>> manifests = helm.render();
        Object shown = HelmBlock.yaml().load(yaml.get(1).text().replaceAll("(?m)^\\s*\\.\\.\\.\\s*$", ""));
        assertThat(map(get(map(shown), "onion")))
                .as("the rendered application.yml holds what the docs show")
                .satisfies(
                        expected -> assertContains(map(get(applicationYaml(manifests), "onion")), expected, "onion"));
        // each Secret mounted whole (no subPath) at /etc/onion-relay/credentials/<name>
        Map<String, Object> container = map(get(workload(manifests), "spec.template.spec.containers.0"));
        for (String credential : List.of("edge", "partner-ca")) {
            Map<String, Object> mount = list(container.get("volumeMounts")).stream()
                    .map(HelmBlock::map)
                    .filter(m -> ("/etc/onion-relay/credentials/" + credential).equals(m.get("mountPath")))
                    .findFirst()
                    .orElseThrow(() -> new AssertionError("no mount for " + credential));
            assertThat(mount).doesNotContainKey("subPath");
        }
    }

    @Test
    void theFleetInstallUsesTheSecretTheBlockCreates() {
        String block = docs.oneBashUnder("On Kubernetes (the chart)");
        HelmBlock helm = HelmBlock.parse(block);
        assertLints(helm);
        List<Map<String, Object>> manifests = helm.render();
        Map<String, Object> workload = workload(manifests);
        assertThat(workload.get("kind")).isEqualTo("StatefulSet");
        assertThat(get(workload, "spec.replicas"))
                .isEqualTo(Integer.parseInt(helm.sets().get("replicaCount")));

        Matcher secret = Pattern.compile("kubectl create secret generic (\\S+) --namespace (\\S+)(.*)")
                .matcher(block.replace("\\\n", " "));
        assertThat(secret.find()).as("the block creates the store's Secret").isTrue();
        assertThat(secret.group(1)).isEqualTo(helm.sets().get("store.postgres.existingSecret"));
        assertThat(secret.group(2)).isEqualTo(helm.namespace());
        List<String> keys = new ArrayList<>();
        Matcher from = Pattern.compile("--from-(?:literal|file)=([^=\\s]+)=").matcher(secret.group(3));
        while (from.find()) {
            keys.add(from.group(1));
        }
        String container = "spec.template.spec.containers.0";
        Map<String, Object> password = list(get(workload, container + ".env")).stream()
                .map(HelmBlock::map)
                .filter(e -> "SPRING_DATASOURCE_PASSWORD".equals(e.get("name")))
                .findFirst()
                .orElseThrow();
        assertThat(get(password, "valueFrom.secretKeyRef.name")).isEqualTo(secret.group(1));
        assertThat(keys).as("the password key the chart reads").contains((String)
                get(password, "valueFrom.secretKeyRef.key"));
        List<String> mountedKeys = list(get(workload, "spec.template.spec.volumes")).stream()
                .map(HelmBlock::map)
                .filter(v -> secret.group(1).equals(get(v, "secret.secretName")))
                .flatMap(v -> list(get(v, "secret.items")).stream())
                .map(item -> (String) map(item).get("key"))
                .toList();
        assertThat(keys).as("the key file the chart mounts from the Secret").containsAll(mountedKeys);
        assertThat(mountedKeys).isNotEmpty();
        assertThat(String.valueOf(get(applicationYaml(manifests), "spring.datasource.url")))
                .isEqualTo(helm.sets().get("store.postgres.url"));
        assertKubectlTargetsExist(block, helm, manifests);
    }

    /** Every {@code kubectl get secret} and {@code port-forward svc/...} of the block names a rendered object. */
    private static void assertKubectlTargetsExist(String block, HelmBlock helm, List<Map<String, Object>> manifests) {
        Matcher secret = Pattern.compile(
                        "kubectl get secret --namespace (\\S+) (\\S+) -o jsonpath='\\{\\.data\\.([\\w-]+)}'")
                .matcher(block);
        int secrets = 0;
        while (secret.find()) {
            secrets++;
            assertThat(secret.group(1)).isEqualTo(helm.namespace());
            assertThat(map(named(manifests, "Secret", secret.group(2)).get("data")))
                    .as("the Secret holds the key the block reads")
                    .containsKey(secret.group(3));
        }
        assertThat(secrets).as("the block reads the token Secret").isPositive();
        Matcher forward = Pattern.compile("kubectl port-forward --namespace (\\S+) svc/(\\S+) (\\d+):(\\d+)")
                .matcher(block);
        int forwards = 0;
        while (forward.find()) {
            forwards++;
            assertThat(forward.group(1)).isEqualTo(helm.namespace());
            assertThat(servicePorts(named(manifests, "Service", forward.group(2))))
                    .contains(Integer.parseInt(forward.group(4)));
        }
        assertThat(forwards).isPositive();
    }

    private void assertLints(HelmBlock helm) {
        LintResult lint = helm.lint(work);
        assertThat(lint.isFailed())
                .as("helm lint --strict: %s", lint.getMessages())
                .isFalse();
    }

    /** Every key of {@code expected} is in {@code actual} with that value; lists element by element, as subsets. */
    private static void assertContains(Object actual, Object expected, String path) {
        if (expected instanceof Map<?, ?> map) {
            assertThat(actual).as(path).isInstanceOf(Map.class);
            map.forEach((key, value) -> assertContains(((Map<?, ?>) actual).get(key), value, path + "." + key));
        } else if (expected instanceof List<?> items) {
            assertThat(actual).as(path).isInstanceOf(List.class);
            assertThat(((List<?>) actual)).as(path).hasSizeGreaterThanOrEqualTo(items.size());
            IntStream.range(0, items.size())
                    .forEach(i -> assertContains(((List<?>) actual).get(i), items.get(i), path + "[" + i + "]"));
        } else {
            assertThat(String.valueOf(actual)).as(path).isEqualTo(String.valueOf(expected));
        }
    }

    /**
     * The environment variable names a property of the service, read as Spring reads environment variables ({@code _}
     * between the parts of the name, a number for a list index, dashes dropped): its parts lead through the service's
     * own configuration classes to a property, and Spring's binder reads the value the docs give from it.
     */
    private static void assertIsAPropertyOfTheService(String name, String value) {
        if (name.equals("JAVA_TOOL_OPTIONS")) {
            return; // the JVM's own
        }
        List<String> parts = List.of(name.toLowerCase(java.util.Locale.ROOT).split("_"));
        // Named as the process environment is: Spring reads a source by that name with its environment-variable rules.
        Binder binder = new Binder(ConfigurationPropertySources.from(new SystemEnvironmentPropertySource(
                StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME, Map.of(name, value))));
        if (parts.get(0).equals("onion")) {
            assertLeadsToAProperty(OnionProperties.class, parts.subList(1, parts.size()), name);
            if (name.startsWith("ONION_POLICY_LISTENHOSTS_")) {
                assertThat(binder.bind("onion.policy.listen-hosts", Bindable.listOf(String.class))
                                .get())
                        .containsExactly(value);
            }
        } else if (parts.size() > 2
                && parts.get(0).equals("management")
                && parts.get(1).equals("server")) {
            assertLeadsToAProperty(ManagementServerProperties.class, parts.subList(2, parts.size()), name);
            assertThat(binder.bind("management.server.address", String.class).get())
                    .as("-e %s", name)
                    .isEqualTo(value);
        } else {
            throw new AssertionError("-e " + name + ": not a property this test knows; add its class here");
        }
    }

    private static void assertLeadsToAProperty(Class<?> root, List<String> parts, String name) {
        java.lang.reflect.Type current = root;
        int at = 0;
        while (at < parts.size()) {
            Class<?> type = raw(current);
            if (List.class.isAssignableFrom(type) || Map.class.isAssignableFrom(type)) {
                // a list index, or a map key (credentials.<name>): the element's type follows
                current = ((java.lang.reflect.ParameterizedType) current)
                        .getActualTypeArguments()[List.class.isAssignableFrom(type) ? 0 : 1];
                at++;
                continue;
            }
            java.lang.reflect.Type found = null;
            int end = parts.size();
            for (; end > at && found == null; end--) {
                found = property(type, String.join("", parts.subList(at, end)));
            }
            assertThat(found)
                    .as("-e %s: %s has no property '%s'", name, type.getSimpleName(), parts.get(at))
                    .isNotNull();
            current = found;
            at = end + 1;
        }
    }

    /** The record component or getter whose name, in lower case, is {@code flat}; its type. */
    private static java.lang.reflect.Type property(Class<?> type, String flat) {
        if (type.isRecord()) {
            for (var component : type.getRecordComponents()) {
                if (component.getName().toLowerCase(java.util.Locale.ROOT).equals(flat)) {
                    return component.getGenericType();
                }
            }
            return null;
        }
        for (var method : type.getMethods()) {
            String getter = method.getName().replaceFirst("^(get|is)", "");
            if (method.getParameterCount() == 0
                    && !getter.equals(method.getName())
                    && getter.toLowerCase(java.util.Locale.ROOT).equals(flat)) {
                return method.getGenericReturnType();
            }
        }
        return null;
    }

    private static Class<?> raw(java.lang.reflect.Type type) {
        return type instanceof java.lang.reflect.ParameterizedType parameterized
                ? (Class<?>) parameterized.getRawType()
                : (Class<?>) type;
    }

    private static Map<String, Object> workload(List<Map<String, Object>> manifests) {
        List<Map<String, Object>> found = manifests.stream()
                .filter(m -> List.of("Deployment", "StatefulSet").contains(m.get("kind")))
                .toList();
        assertThat(found).hasSize(1);
        return found.get(0);
    }

    private static Map<String, Object> applicationYaml(List<Map<String, Object>> manifests) {
        Map<String, Object> configMap = manifests.stream()
                .filter(m -> "ConfigMap".equals(m.get("kind")))
                .findFirst()
                .orElseThrow();
        return map(HelmBlock.yaml().load((String) map(configMap.get("data")).get("application.yml")));
    }

    private static List<Integer> servicePorts(Map<String, Object> service) {
        return list(get(service, "spec.ports")).stream()
                .map(p -> (Integer) map(p).get("port"))
                .toList();
    }

    private static Object application(String dotted) throws Exception {
        // the first document: the defaults (later ones are for profiles)
        Object defaults = HelmBlock.yaml()
                .loadAll(Files.readString(Path.of("application.yml")))
                .iterator()
                .next();
        return get(defaults, dotted);
    }

    private static List<Integer> exposedPorts(String dockerfile) {
        List<Integer> ports = new ArrayList<>();
        for (String word : matchOne(dockerfile, "(?m)^EXPOSE (.+)$").split("\\s+")) {
            ports.addAll(range(word));
        }
        return ports;
    }

    private static List<Integer> range(String ports) {
        String[] ends = ports.split("-");
        int first = Integer.parseInt(ends[0]);
        int last = Integer.parseInt(ends[ends.length - 1]);
        return IntStream.rangeClosed(first, last).boxed().toList();
    }

    private static String matchOne(String text, String regex) {
        Matcher matcher = Pattern.compile(regex).matcher(text);
        assertThat(matcher.find()).as("%s in the text", regex).isTrue();
        return matcher.group(1);
    }

    /** One {@code -p [address:]host:container} (ports or ranges). */
    record Published(String hostAddress, List<Integer> container) {}

    /** A {@code docker run} line: its published ports, volumes, environment, tmpfs mounts and image. */
    record DockerRun(
            String line,
            List<Published> published,
            Map<String, String> volumes,
            Map<String, String> env,
            List<String> tmpfs,
            String image) {

        static DockerRun parse(String line) {
            List<String> words = new ArrayList<>();
            Matcher word = Pattern.compile("'([^']*)'|(\\S+)").matcher(line);
            while (word.find()) {
                words.add(word.group(1) != null ? word.group(1) : word.group(2));
            }
            List<Published> published = new ArrayList<>();
            Map<String, String> volumes = new LinkedHashMap<>();
            Map<String, String> env = new LinkedHashMap<>();
            List<String> tmpfs = new ArrayList<>();
            String image = null;
            for (int i = 2; i < words.size(); i++) {
                String flag = words.get(i);
                switch (flag) {
                    case "-p" -> {
                        String[] parts = words.get(++i).split(":");
                        String address = parts.length == 3 ? parts[0] : "0.0.0.0";
                        published.add(new Published(address, range(parts[parts.length - 1])));
                    }
                    case "-v" -> {
                        String[] parts = words.get(++i).split(":");
                        volumes.put(parts[0], parts[1]);
                    }
                    case "-e" -> {
                        String[] pair = words.get(++i).split("=", 2);
                        env.put(pair[0], pair[1]);
                    }
                    case "--tmpfs" -> tmpfs.add(words.get(++i));
                    case "--name", "--cap-drop", "--security-opt" -> i++;
                    case "--rm", "--read-only", "-d" -> {}
                    default -> {
                        assertThat(flag)
                                .as("a docker run flag this reader knows, in: %s", line)
                                .doesNotStartWith("-");
                        image = flag;
                    }
                }
            }
            return new DockerRun(line, published, volumes, env, tmpfs, image);
        }

        @Override
        public String toString() {
            return line;
        }
    }
}
