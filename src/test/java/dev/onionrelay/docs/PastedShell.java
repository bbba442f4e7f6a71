package dev.onionrelay.docs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.support.LocalServers;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Documentation blocks run as a user pastes them into bash, with the only edits a test must make: the fixed ports the
 * docs use ({@code 8080}, {@code 7100}, ...) become free ones (other tests run beside this one), and paths the docs
 * use become the test's own ({@code /tmp} becomes the test's directory, before any other edit). Each documented port maps to one free port
 * for the whole session, so blocks that name each other's ports stay consistent. Processes a block leaves in the
 * background are stopped when its script ends (a trap over its jobs), as a user would close the terminal.
 */
final class PastedShell {

    private final Path work;
    private final Map<Integer, Integer> ports = new TreeMap<>();
    private final Map<String, String> replacements = new LinkedHashMap<>();
    private final Map<String, String> environment = new LinkedHashMap<>();
    private String prelude = "";

    PastedShell(Path work) {
        this.work = work;
        try {
            // It stands for /tmp: servers that drop privileges (Squid runs as 'proxy') must reach their files in it.
            Files.setPosixFilePermissions(work, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The documented port {@code documented} is {@code actual} here (the service's API, say). */
    PastedShell port(int documented, int actual) {
        ports.put(documented, actual);
        return this;
    }

    /** The documented ports, each mapped to a free port of its own. */
    PastedShell freePorts(int... documented) {
        for (int port : documented) {
            ports.computeIfAbsent(port, p -> unusedPort());
        }
        return this;
    }

    /**
     * A free port below the kernel's ephemeral range (32768 and up on Linux): the blocks bind theirs long after they are
     * chosen, and a port from that range can meanwhile become the local port of some outgoing connection (it did).
     */
    int unusedPort() {
        for (int attempt = 0; attempt < 200; attempt++) {
            int port = 20000 + java.util.concurrent.ThreadLocalRandom.current().nextInt(12000);
            if (!ports.containsValue(port) && isFree(port)) {
                return port;
            }
        }
        return LocalServers.freePort();
    }

    /**
     * Documented ports a block counts through ({@code port=$((port + 1))}), mapped to free ports in the same order
     * and distance.
     */
    PastedShell consecutiveFreePorts(int first, int count) {
        for (int attempt = 0; attempt < 50; attempt++) {
            int base = unusedPort();
            boolean allFree = true;
            for (int i = 1; i < count && allFree; i++) {
                allFree = !ports.containsValue(base + i) && isFree(base + i);
            }
            if (allFree) {
                for (int i = 0; i < count; i++) {
                    ports.put(first + i, base + i);
                }
                return this;
            }
        }
        throw new AssertionError("no " + count + " consecutive free ports");
    }

    private static boolean isFree(int port) {
        try (java.net.ServerSocket socket =
                new java.net.ServerSocket(port, 1, java.net.InetAddress.getLoopbackAddress())) {
            return true;
        } catch (IOException taken) {
            return false;
        }
    }

    int port(int documented) {
        Integer actual = ports.get(documented);
        assertThat(actual).as("port %d is mapped", documented).isNotNull();
        return actual;
    }

    /** One more literal edit, applied before the ports are mapped. */
    PastedShell replace(String documented, String actual) {
        replacements.put(documented, actual);
        return this;
    }

    PastedShell env(String name, String value) {
        environment.put(name, value);
        return this;
    }

    /** Shell text run before every script (a function standing for a command the test machine lacks, say). */
    PastedShell prelude(String text) {
        this.prelude = text;
        return this;
    }

    /** The block as this session runs it. */
    String adapt(String block) {
        String text = block.replace("/tmp", work.toString());
        for (Map.Entry<String, String> edit : replacements.entrySet()) {
            text = text.replace(edit.getKey(), edit.getValue());
        }
        // \x20\xfb in a printf is a port in network order (8443 in the SOCKS5 request of the proxy exits).
        for (Map.Entry<Integer, Integer> port : ports.entrySet()) {
            text = text.replace(hex(port.getKey()), hex(port.getValue()));
        }
        Matcher number = Pattern.compile("(?<![\\d.])\\d{4,5}(?![\\d.])").matcher(text);
        StringBuilder mapped = new StringBuilder();
        while (number.find()) {
            Integer actual = ports.get(Integer.parseInt(number.group()));
            number.appendReplacement(mapped, actual != null ? actual.toString() : number.group());
        }
        number.appendTail(mapped);
        return mapped.toString();
    }

    private static String hex(int port) {
        return String.format("\\x%02x\\x%02x", port >> 8, port & 0xff);
    }

    /** Runs the blocks one after the other in one bash, each after a line {@code === <name>}; all it printed. */
    String run(Duration patience, List<Map.Entry<String, String>> namedBlocks) {
        StringBuilder script = new StringBuilder();
        // Background processes the blocks leave (servers they start) end with the script, as with a closed terminal.
        script.append("trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\n")
                .append(prelude)
                .append('\n');
        for (Map.Entry<String, String> block : namedBlocks) {
            script.append("echo '=== ")
                    .append(block.getKey())
                    .append("'\n")
                    .append(adapt(block.getValue()))
                    .append('\n');
        }
        try {
            Path file = Files.createTempFile(work, "pasted-", ".sh");
            Files.writeString(file, script);
            Path output = Files.createTempFile(work, "pasted-", ".out");
            ProcessBuilder builder = new ProcessBuilder("bash", file.toString())
                    .directory(work.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(output.toFile());
            builder.environment().putAll(environment);
            Process bash = builder.start();
            boolean finished = bash.waitFor(patience.toMillis(), TimeUnit.MILLISECONDS);
            if (!finished) {
                bash.descendants().forEach(ProcessHandle::destroy);
                bash.destroy();
                bash.waitFor(10, TimeUnit.SECONDS);
            }
            String printed = Files.readString(output, StandardCharsets.UTF_8);
            assertThat(finished)
                    .as("the blocks finish within %s; they printed:%n%s", patience, printed)
                    .isTrue();
            return printed;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** What {@link #run} printed, cut at its {@code === name} lines: name to the non-blank lines printed under it. */
    static Map<String, List<String>> sections(String printed) {
        Map<String, List<String>> sections = new LinkedHashMap<>();
        String current = "";
        StringBuilder text = new StringBuilder();
        for (String line : (printed + "\n=== end").split("\n")) {
            if (line.startsWith("=== ")) {
                sections.put(
                        current,
                        text.toString().lines().filter(l -> !l.isBlank()).toList());
                current = line.substring(4);
                text.setLength(0);
            } else {
                text.append(line).append('\n');
            }
        }
        sections.remove("end");
        return sections;
    }
}
