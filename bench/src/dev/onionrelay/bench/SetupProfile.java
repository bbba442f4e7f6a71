package dev.onionrelay.bench;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The set-up phase alone, for profiling and quick A/B runs: one entry and one exit service process (the real jar, the
 * JVM that runs this class), a sink, and {@code concurrency} clients opening depth-N tunnels with a checked 64-byte
 * echo each, as the set-up phase of {@link Bench} does. Prints tunnels per second and the relays' CPU per tunnel; with
 * {@code --jfr DIR} it records the measured window with JFR ({@code settings=profile}) in both relay processes.
 *
 * <p>Usage: {@code SetupProfile --jar PATH [--depth 1] [--warmup 20] [--seconds 20] [--concurrency 8]
 * [--provider jdk] [--jfr DIR] [--jvm-arg ARG]...}
 */
public final class SetupProfile {

    public static void main(String[] args) throws Exception {
        Path jar = null;
        int depth = 1;
        double warmup = 20;
        double seconds = 20;
        int concurrency = 8;
        String provider = "jdk";
        Path jfr = null;
        List<String> jvmArgs = new ArrayList<>();
        for (int i = 0; i < args.length; i += 2) {
            String value = args[i + 1];
            switch (args[i]) {
                case "--jar" -> jar = Path.of(value).toAbsolutePath();
                case "--depth" -> depth = Integer.parseInt(value);
                case "--warmup" -> warmup = Double.parseDouble(value);
                case "--seconds" -> seconds = Double.parseDouble(value);
                case "--concurrency" -> concurrency = Integer.parseInt(value);
                case "--provider" -> provider = value;
                case "--jfr" -> jfr = Path.of(value).toAbsolutePath();
                case "--jvm-arg" -> jvmArgs.add(value);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        if (jar == null) {
            throw new IllegalArgumentException("--jar must name the service jar");
        }
        Path work = Files.createTempDirectory("onion-setup-profile");
        Pki pki = Pki.generate(work.resolve("pki"), depth, "ec");
        Path classes = Path.of(SetupProfile.class.getProtectionDomain().getCodeSource().getLocation().getPath());
        Process sink = new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-cp", classes.toString(), Sink.class.getName(), "0", "2")
                .redirectError(work.resolve("sink.log").toFile())
                .start();
        try (RelayService entry = RelayService.start(jar, work.resolve("entry"), "entry", provider, "nio", jvmArgs);
                RelayService exit = RelayService.start(jar, work.resolve("exit"), "exit", provider, "nio", jvmArgs)) {
            String ready = new BufferedReader(new InputStreamReader(sink.getInputStream(), StandardCharsets.UTF_8))
                    .readLine();
            int sinkPort = Integer.parseInt(ready.substring(6).trim());
            entry.awaitReady(Duration.ofSeconds(180));
            exit.awaitReady(Duration.ofSeconds(180));
            Contender.Onion onion = new Contender.Onion(provider, "nio", "", entry, exit);
            onion.configure(pki, depth, sinkPort, 1024);
            int port = onion.entryPorts.get(depth);
            List<Long> pids = List.of(entry.pid(), exit.pid());
            Load.setupRate(port, concurrency, Duration.ZERO, Duration.ofMillis((long) (warmup * 1000)));
            if (jfr != null) {
                Files.createDirectories(jfr);
                for (long pid : pids) {
                    jcmd(pid, "JFR.start", "name=setup", "settings=profile");
                }
            }
            double cpuBefore = Cpu.seconds(pids);
            Load.SetupRate rate =
                    Load.setupRate(port, concurrency, Duration.ZERO, Duration.ofMillis((long) (seconds * 1000)));
            double cpu = Cpu.seconds(pids) - cpuBefore;
            if (jfr != null) {
                jcmd(entry.pid(), "JFR.stop", "name=setup", "filename=" + jfr.resolve("entry.jfr"));
                jcmd(exit.pid(), "JFR.stop", "name=setup", "filename=" + jfr.resolve("exit.jfr"));
            }
            System.out.printf(Locale.ROOT,
                    "java %s, %s, depth %d, concurrency %d: %.0f tunnels/s, %d failures, relay CPU %.2f ms per tunnel"
                            + " (%d tunnels, %.1f CPU s)%n",
                    System.getProperty("java.version"), provider, depth, concurrency, rate.perSecond(),
                    rate.failures(), cpu * 1000 / rate.tunnels(), rate.tunnels(), cpu);
        } finally {
            sink.destroy();
        }
    }

    private static void jcmd(long pid, String... command) throws Exception {
        List<String> line = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(), Long.toString(pid)));
        line.addAll(List.of(command));
        Process process = new ProcessBuilder(line).redirectErrorStream(true).start();
        process.getInputStream().transferTo(System.err);
        process.waitFor();
    }
}
