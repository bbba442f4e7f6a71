package dev.onionrelay.architecture;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The package layout holds: no import cycle between top-level packages, and the engine packages ({@code layer},
 * {@code relay}, {@code registry}, {@code credential}) free of Spring, so that they can be used, tested and replaced
 * without a web container. Read from the compiled classes (every type a class refers to is in its constant pool), so
 * fully qualified names in code count as much as imports.
 */
class PackageLayoutTest {

    private static final String ROOT = "dev/onionrelay/";
    private static final Pattern PROJECT = Pattern.compile("dev/onionrelay/(\\w+)/");
    private static final List<String> ENGINE = List.of("layer", "relay", "registry", "credential", "store", "fleet");

    /** Top-level package -> the classes in it -> what they refer to (internal names). */
    private static final Map<String, Map<String, Set<String>>> REFERENCES = new TreeMap<>();

    @BeforeAll
    static void scan() throws IOException, URISyntaxException {
        Path classes = Path.of(dev.onionrelay.OnionRelayApplication.class
                .getProtectionDomain()
                .getCodeSource()
                .getLocation()
                .toURI());
        try (Stream<Path> files = Files.walk(classes.resolve(ROOT))) {
            for (Path file : files.filter(f -> f.toString().endsWith(".class")).toList()) {
                String name = classes.relativize(file).toString().replace('\\', '/');
                Matcher top = PROJECT.matcher(name);
                String pkg = top.lookingAt() ? top.group(1) : "";
                try (InputStream in = Files.newInputStream(file)) {
                    REFERENCES.computeIfAbsent(pkg, p -> new TreeMap<>()).put(name, constants(in));
                }
            }
        }
        assertThat(REFERENCES).containsKeys(ENGINE.toArray(String[]::new));
    }

    @Test
    void engineLayersUseNoSpring() {
        List<String> offenders = new ArrayList<>();
        for (String pkg : ENGINE) {
            REFERENCES.get(pkg).forEach((type, refs) -> refs.stream()
                    .filter(ref -> ref.contains("org/springframework/"))
                    .forEach(ref -> offenders.add(type + " -> " + ref)));
        }
        assertThat(offenders).as("Spring referenced by an engine package").isEmpty();
    }

    @Test
    void noCycleBetweenTopLevelPackages() {
        Map<String, Set<String>> graph = new TreeMap<>();
        Map<String, String> example = new TreeMap<>();
        REFERENCES.forEach((pkg, types) -> types.forEach((type, refs) -> {
            for (String ref : refs) {
                Matcher m = PROJECT.matcher(ref);
                while (m.find()) {
                    String to = m.group(1);
                    if (!pkg.isEmpty() && !to.equals(pkg) && REFERENCES.containsKey(to)) {
                        graph.computeIfAbsent(pkg, p -> new TreeSet<>()).add(to);
                        example.putIfAbsent(pkg + " -> " + to, type);
                    }
                }
            }
        }));
        List<String> cycles = new ArrayList<>();
        for (String from : graph.keySet()) {
            for (String to : graph.get(from)) {
                if (from.compareTo(to) < 0 && reaches(graph, to, from, new TreeSet<>())) {
                    cycles.add(from + " <-> " + to + " (" + example.get(from + " -> " + to) + ", "
                            + (example.containsKey(to + " -> " + from)
                                    ? example.get(to + " -> " + from)
                                    : "through other packages")
                            + ")");
                }
            }
        }
        assertThat(cycles).as("package dependency graph " + graph).isEmpty();
    }

    private static boolean reaches(Map<String, Set<String>> graph, String from, String to, Set<String> seen) {
        if (from.equals(to)) {
            return true;
        }
        if (!seen.add(from)) {
            return false;
        }
        for (String next : graph.getOrDefault(from, Set.of())) {
            if (reaches(graph, next, to, seen)) {
                return true;
            }
        }
        return false;
    }

    /** The UTF-8 constants of a class file: class names, descriptors and signatures among them. */
    static Set<String> constants(InputStream classFile) throws IOException {
        DataInputStream in = new DataInputStream(classFile);
        if (in.readInt() != 0xCAFEBABE) {
            throw new IOException("not a class file");
        }
        in.readUnsignedShort();
        in.readUnsignedShort();
        int count = in.readUnsignedShort();
        Set<String> utf8 = new TreeSet<>();
        for (int i = 1; i < count; i++) {
            int tag = in.readUnsignedByte();
            switch (tag) {
                case 1 -> utf8.add(in.readUTF());
                case 7, 8, 16, 19, 20 -> in.skipBytes(2);
                case 15 -> in.skipBytes(3);
                case 3, 4, 9, 10, 11, 12, 17, 18 -> in.skipBytes(4);
                case 5, 6 -> {
                    in.skipBytes(8);
                    i++;
                }
                default -> throw new IOException("unknown constant pool tag " + tag);
            }
        }
        return utf8;
    }
}
