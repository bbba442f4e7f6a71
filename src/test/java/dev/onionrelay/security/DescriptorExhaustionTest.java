package dev.onionrelay.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.ServiceProcess;
import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 22's descriptor exhaustion: the service runs with 300 file descriptors and 200 clients arrive at once, each
 * needing two (its own and the one towards the target). Accepts and target connects fail with EMFILE; each failure
 * ends its tunnel and gives back its places. After the clients leave, no tunnel is listed and {@code activeTunnels} is
 * 0; the exhaustion is counted and shown in health, and the relay accepts again.
 */
@Scenario
class DescriptorExhaustionTest {

    static final int CLIENTS = 200;

    @Test
    void afterTwoHundredClientsOnThreeHundredDescriptorsNoTunnelIsLeftAndAcceptingResumes(@TempDir Path dir)
            throws Exception {
        Files.createDirectories(dir.resolve("state"));
        try (EchoServer echo = new EchoServer();
                ServiceProcess service =
                        new ServiceProcess(dir.resolve("state"), dir.resolve("service.log")).withFileLimit(300)) {
            service.start();
            ApiClient api = service.api();
            assertThat(api.post(
                                    "/relays",
                                    Map.of("name", "plain", "target", Map.of("host", "127.0.0.1", "port", echo.port())))
                            .status())
                    .isEqualTo(201);
            int port = api.get("/relays/plain").json().get("listen").get("port").asInt();

            // One tunnel first, and a scrape: the JVM loads a class from target/classes with a descriptor of its own,
            // and a class that fails to load for want of one stays unloadable. From the jar, as deployed, the classes
            // come from a file that is open already.
            try (Socket first = new Socket(InetAddress.getLoopbackAddress(), port)) {
                first.setSoTimeout(5000);
                first.getOutputStream().write('w');
                assertThat(first.getInputStream().read()).isEqualTo('w');
            }
            // The same for the failure path: a tunnel to a port nothing listens on loads what a failed connect
            // needs, so that the failures under exhaustion end their tunnels at once.
            int closedPort;
            try (java.net.ServerSocket unused = new java.net.ServerSocket(0)) {
                closedPort = unused.getLocalPort();
            }
            assertThat(api.post(
                                    "/relays",
                                    Map.of("name", "down", "target", Map.of("host", "127.0.0.1", "port", closedPort)))
                            .status())
                    .isEqualTo(201);
            int downPort =
                    api.get("/relays/down").json().get("listen").get("port").asInt();
            try (Socket refused = new Socket(InetAddress.getLoopbackAddress(), downPort)) {
                refused.setSoTimeout(5000);
                assertThat(refused.getInputStream().read()).as("ended at once").isEqualTo(-1);
            }
            metric(service, "onion_tunnels_active");
            service.management().get("/actuator/health");
            long idle;
            try (var fds = Files.list(Path.of("/proc/" + service.pid() + "/fd"))) {
                idle = fds.count();
            }
            System.out.printf("the service holds %d descriptors before the clients%n", idle);
            List<Socket> clients = new ArrayList<>();
            int echoed = 0;
            try {
                for (int i = 0; i < CLIENTS; i++) {
                    Socket socket = new Socket(InetAddress.getLoopbackAddress(), port);
                    clients.add(socket);
                }
                for (Socket socket : clients) {
                    try {
                        socket.getOutputStream().write('x');
                    } catch (IOException closed) {
                        // refused or closed: what running out of descriptors does
                    }
                }
                // One deadline for all the answers rather than a timeout each: clients left in the backlog stay silent
                long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
                for (Socket socket : clients) {
                    try {
                        socket.setSoTimeout((int) Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
                        if (socket.getInputStream().read() == 'x') {
                            echoed++;
                        }
                    } catch (IOException closedOrSlow) {
                        // refused, closed or still in the backlog: what running out of descriptors does
                    }
                }
            } finally {
                for (Socket socket : clients) {
                    socket.close();
                }
            }
            List<String> exhausted = metric(service, "onion_descriptors_exhausted_total");
            System.out.println(metric(service, "onion_tunnels_rejected_total") + " "
                    + metric(service, "onion_connect_failures_total") + " "
                    + metric(service, "onion_target_connects_total"));
            System.out.printf("%d of %d clients echoed on 300 descriptors; %s%n", echoed, CLIENTS, exhausted);
            Files.readAllLines(dir.resolve("service.log")).stream()
                    .filter(line -> line.contains("WARN") || line.contains("ERROR"))
                    .limit(20)
                    .forEach(System.out::println);
            assertThat(echoed).as("not every client can have two descriptors").isLessThan(CLIENTS);
            assertThat(exhausted).anyMatch(line -> !line.endsWith(" 0.0"));

            // Every tunnel whose connect failed ended at once: none waited for the 30 s set-up deadline.
            assertThat(metric(service, "onion_tunnels_rejected_total"))
                    .as("tunnels ended by the set-up deadline instead of by their failure")
                    .noneMatch(line -> line.contains("setup_timeout") && !line.endsWith(" 0.0"));
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                assertThat(api.get("/relays/plain/tunnels").json().size()).isZero();
                assertThat(api.get("/relays/plain")
                                .json()
                                .get("stats")
                                .get("activeTunnels")
                                .asInt())
                        .isZero();
            });
            assertThat(service.management()
                            .get("/actuator/health")
                            .json()
                            .get("components")
                            .get("onion")
                            .get("description")
                            .asString())
                    .as("the health warning")
                    .contains("file descriptors");

            try (var fds = Files.list(Path.of("/proc/" + service.pid() + "/fd"))) {
                System.out.printf("the service holds %d descriptors after the clients left%n", fds.count());
            }
            // Descriptors are back: the same listener accepts and relays again.
            await().atMost(Duration.ofSeconds(10)).ignoreExceptions().untilAsserted(() -> {
                try (Socket again = new Socket(InetAddress.getLoopbackAddress(), port)) {
                    again.setSoTimeout(2000);
                    again.getOutputStream().write('y');
                    assertThat(again.getInputStream().read()).isEqualTo('y');
                }
            });
        }
    }

    /** The samples of one metric, as Prometheus text lines. */
    private static List<String> metric(ServiceProcess service, String name) {
        return service.management()
                .get("/actuator/prometheus")
                .body()
                .lines()
                .filter(line -> line.startsWith(name))
                .toList();
    }
}
