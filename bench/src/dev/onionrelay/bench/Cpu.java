package dev.onionrelay.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * CPU time used by a set of processes, from {@code /proc/<pid>/stat} (user + system, all threads). On a shared
 * machine a contender's throughput depends on the CPU share it gets; the CPU it spends per gigabyte or per tunnel
 * does much less, so the report shows both.
 */
final class Cpu {

    /** Clock ticks per second of {@code /proc/<pid>/stat}; 100 on every Linux the benchmark targets. */
    private static final double TICKS_PER_SECOND = 100;

    private Cpu() {}

    static double seconds(List<Long> pids) {
        double total = 0;
        for (long pid : pids) {
            try {
                total += seconds(Path.of("/proc", Long.toString(pid), "stat"));
            } catch (IOException | RuntimeException e) {
                // The process is gone: it used nothing more.
            }
        }
        return total;
    }

    /**
     * CPU time of the JIT compiler threads ("C1 CompilerThre", "C2 CompilerThre") of these processes: the warm-up
     * runs until it stops growing, so that measured runs see a steady state and not compilation.
     */
    static double compilerSeconds(List<Long> pids) {
        double total = 0;
        for (long pid : pids) {
            try (var tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
                for (Path task : tasks.toList()) {
                    String name = Files.readString(task.resolve("comm")).trim();
                    if (name.startsWith("C1 Compiler") || name.startsWith("C2 Compiler")) {
                        total += seconds(task.resolve("stat"));
                    }
                }
            } catch (IOException | RuntimeException e) {
                // The process or thread is gone: it compiles nothing more.
            }
        }
        return total;
    }

    /** User + system seconds from a {@code stat} file of a process or thread. */
    private static double seconds(Path stat) throws IOException {
        String line = Files.readString(stat);
        // The command name is in parentheses and may contain spaces: count fields after the last ')'.
        String[] fields = line.substring(line.lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) / TICKS_PER_SECOND;
    }

    /** The Java version of a running JVM, from its {@code java} binary's release file, or its path. */
    static String javaVersion(long pid) {
        try {
            Path binary = Path.of("/proc", Long.toString(pid), "exe").toRealPath();
            Path release = binary.getParent().getParent().resolve("release");
            for (String line : Files.readAllLines(release)) {
                if (line.startsWith("JAVA_VERSION=")) {
                    return "Java " + line.substring(13).replace("\"", "");
                }
            }
            return binary.toString();
        } catch (IOException | RuntimeException e) {
            return "an unknown Java";
        }
    }
}
