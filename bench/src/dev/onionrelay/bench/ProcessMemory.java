package dev.onionrelay.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Memory of a process as the benchmark reports it. For a JVM: live heap after a full GC ({@code jcmd GC.run}, then
 * {@code GC.heap_info}) and native memory from {@code Unsafe.allocateMemory}, which is where Netty's direct buffers
 * live whether they have a cleaner or not (NMT category "Other"; the JVM must run with
 * {@code -XX:NativeMemoryTracking=summary}). For any process: resident set size.
 */
final class ProcessMemory {

    private static final Pattern HEAP_USED = Pattern.compile("used (\\d+)K");
    private static final Pattern NMT_OTHER =
            Pattern.compile("-\\s+Other \\(reserved=(\\d+)KB, committed=(\\d+)KB\\)");
    private static final Pattern HISTOGRAM_LINE =
            Pattern.compile("^\\s*\\d+:\\s+(\\d+)\\s+(\\d+)\\s+(\\S+)", Pattern.MULTILINE);

    /** Bytes. {@code direct} is -1 when NMT is off. */
    record Jvm(long heap, long direct, long rss) {}

    private ProcessMemory() {}

    static Jvm jvm(long pid) throws IOException, InterruptedException {
        jcmd(pid, "GC.run");
        String heapInfo = jcmd(pid, "GC.heap_info");
        Matcher heap = HEAP_USED.matcher(heapInfo);
        if (!heap.find()) {
            throw new IOException("cannot read heap use from jcmd GC.heap_info:\n" + heapInfo);
        }
        String nmt = jcmd(pid, "VM.native_memory", "summary");
        Matcher other = NMT_OTHER.matcher(nmt);
        long direct = other.find() ? Long.parseLong(other.group(2)) * 1024 : -1;
        return new Jvm(Long.parseLong(heap.group(1)) * 1024, direct, rss(pid));
    }

    /**
     * Live instances of the classes that show which transport and TLS engine a relay really runs (a typo in a
     * property must not silently measure the default).
     */
    static Map<String, Long> engineClasses(long pid) throws IOException, InterruptedException {
        String histogram = jcmd(pid, "GC.class_histogram");
        Map<String, Long> found = new LinkedHashMap<>();
        Matcher line = HISTOGRAM_LINE.matcher(histogram);
        while (line.find()) {
            String name = line.group(3);
            if (name.equals("io.netty.channel.epoll.EpollSocketChannel")
                    || name.equals("io.netty.channel.socket.nio.NioSocketChannel")
                    || name.equals("sun.security.ssl.SSLEngineImpl")
                    || name.startsWith("io.netty.handler.ssl.") && name.endsWith("OpenSslEngine")) {
                found.put(name.substring(name.lastIndexOf('.') + 1), Long.parseLong(line.group(1)));
            }
        }
        return found;
    }

    /** Resident set size in bytes, from {@code /proc}. */
    static long rss(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new IOException("no VmRSS for " + pid);
    }

    private static String jcmd(long pid, String... command) throws IOException, InterruptedException {
        String[] full = new String[command.length + 2];
        full[0] = "jcmd";
        full[1] = Long.toString(pid);
        System.arraycopy(command, 0, full, 2, command.length);
        Process process = new ProcessBuilder(full).redirectErrorStream(true).start();
        byte[] out = process.getInputStream().readAllBytes();
        if (!process.waitFor(120, TimeUnit.SECONDS) || process.exitValue() != 0) {
            throw new IOException(String.join(" ", full) + " failed: " + new String(out, StandardCharsets.UTF_8));
        }
        return new String(out, StandardCharsets.UTF_8);
    }
}
