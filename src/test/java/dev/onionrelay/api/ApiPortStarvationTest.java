package dev.onionrelay.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.RawHttp;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.Socket;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A few sockets, no token needed, must not starve the API port: the admin's {@code GET /relays} keeps answering in
 * under a second while 250 connections announce 100 MB bodies they never send, or trickle their request heads, or one
 * address opens more connections than it may hold. The service runs in this JVM with Tomcat's default 200 workers;
 * the hostile clients come from other loopback addresses (127.0.0.x) than the admin, as they would from other hosts.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
@Scenario
class ApiPortStarvationTest {

    static final int HOSTILE = 250;
    /** Attackers spread over five addresses, 50 each: under the per-address limit, so that every one is served. */
    static final int ADDRESSES = 5;

    static RunningService service;
    static ApiClient admin;
    final List<Socket> hostile = new ArrayList<>();
    long descriptorsBefore;

    @BeforeAll
    static void start() throws IOException {
        service = RunningService.inTemporaryDirectory(
                "--onion.api.request-head-timeout=2s",
                "--onion.api.request-body-timeout=2s",
                "--onion.api.max-connections-per-address=64");
        admin = service.api();
        assertThat(admin.get("/relays").status()).isEqualTo(200);
    }

    @AfterAll
    static void stop() {
        service.close();
    }

    @BeforeEach
    void countDescriptors() {
        descriptorsBefore = openDescriptors();
    }

    @AfterEach
    void closeAndCheckDescriptors() throws IOException {
        for (Socket socket : hostile) {
            socket.close();
        }
        // Both ends of every hostile connection live in this JVM: all of them must be given back.
        await().atMost(Duration.ofSeconds(15))
                .untilAsserted(() -> assertThat(openDescriptors()).isLessThanOrEqualTo(descriptorsBefore + 10));
    }

    @Test
    void twoHundredFiftyAnnouncedHundredMegabyteBodiesWithoutATokenLeaveTheAdminAnswering() throws IOException {
        for (int i = 0; i < HOSTILE; i++) {
            Socket socket = RawHttp.connectFrom(attacker(i % ADDRESSES), service.apiPort());
            hostile.add(socket);
            send(
                    socket,
                    "POST /relays HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            + "Content-Length: 100000000\r\n\r\n");
        }

        long started = System.nanoTime();
        for (Socket socket : hostile) {
            assertThat(statusLine(socket)).startsWith("HTTP/1.1 401 ");
        }
        // Had Tomcat kept each worker to swallow the 100 MB, the last 50 would wait for a worker for the 10 s read
        // timeout.
        assertThat(Duration.ofNanos(System.nanoTime() - started))
                .as("all 250 refused at once")
                .isLessThan(Duration.ofSeconds(5));
        adminAnswersWithinASecond();
        for (Socket socket : hostile) {
            // Closed: Tomcat does not wait to swallow the 100 MB that will never come.
            String answer = RawHttp.readUntilClosed(socket, 5_000);
            assertThat(answer).as("a refused request's connection is closed").isNotNull();
            assertThat(answer).contains("Connection: close");
            assertThat(answer).contains("application/problem+json");
        }
    }

    @Test
    void twoHundredFiftyTrickledRequestHeadsLeaveTheAdminAnsweringAndAreClosedAtTheirDeadline() {
        for (int i = 0; i < HOSTILE; i++) {
            Socket socket = RawHttp.connectFrom(attacker(i % ADDRESSES), service.apiPort());
            hostile.add(socket);
            send(socket, "GET /relays HTTP/1.1\r\nHost: x\r\nX-Slow: ");
        }
        Thread trickle = new Thread(() -> trickle(hostile, 'a'), "trickle-heads");
        trickle.setDaemon(true);
        trickle.start();
        try {
            adminAnswersWithinASecond();
            // The deadline is 2 s from the first byte, checked each second: every head is cut well before 10 s,
            // although a byte arrives more often than the 10 s read timeout.
            for (Socket socket : hostile) {
                assertThat(RawHttp.readUntilClosed(socket, 10_000))
                        .as("a trickled head is closed at its deadline")
                        .isNotNull();
            }
        } finally {
            trickle.interrupt();
        }
    }

    @Test
    void aTrickledBodyIsRefusedWith408AtItsDeadline() throws IOException {
        Socket socket = RawHttp.connectFrom(attacker(0), service.apiPort());
        hostile.add(socket);
        send(
                socket,
                "POST /relays HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + service.adminToken()
                        + "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{");
        Thread trickle = new Thread(() -> trickle(hostile, ' '), "trickle-body");
        trickle.setDaemon(true);
        trickle.start();
        try {
            String answer = RawHttp.readUntilClosed(socket, 10_000);
            assertThat(answer).as("the body's deadline closes the connection").isNotNull();
            assertThat(answer).startsWith("HTTP/1.1 408 ").contains("application/problem+json");
        } finally {
            trickle.interrupt();
        }
        assertThat(admin.get("/relays").json().size()).isZero();
    }

    @Test
    void oneAddressHoldsAtMostItsLimitOfConnections() {
        InetAddress greedy = attacker(9);
        for (int i = 0; i < 80; i++) {
            hostile.add(RawHttp.connectFrom(greedy, service.apiPort()));
        }
        // Well within the 10 s read timeout that ends idle connections: what is closed now was closed at accept.
        long closed = hostile.stream()
                .filter(socket -> RawHttp.readUntilClosed(socket, 30) != null)
                .count();
        // The limit set here is 64: the 16 beyond it are closed as they are accepted, the others stay open.
        assertThat(closed).isEqualTo(16);
        adminAnswersWithinASecond();
        Socket another = RawHttp.connectFrom(attacker(10), service.apiPort());
        hostile.add(another);
        assertThat(RawHttp.readUntilClosed(another, 300))
                .as("another address is not limited")
                .isNull();
    }

    @Test
    void errorIsNothingOnEitherPort() {
        ApiClient.Response api = admin.get("/error");
        assertThat(api.status()).isEqualTo(404);
        assertThat(api.contentType()).startsWith("application/problem+json");
        ApiClient.Response management = service.management().get("/error");
        assertThat(management.status()).isEqualTo(404);
        assertThat(management.contentType()).startsWith("application/problem+json");
        assertThat(new ApiClient(service.apiPort(), null).get("/error").status())
                .as("without a token, like every path of the API port")
                .isEqualTo(401);
    }

    private static void adminAnswersWithinASecond() {
        for (int i = 0; i < 5; i++) {
            long started = System.nanoTime();
            // A new connection each time, as a new client would come.
            RawHttp.Response relays = RawHttp.exchange(
                    service.apiPort(),
                    ("GET /relays HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + service.adminToken()
                                    + "\r\nConnection: close\r\n\r\n")
                            .getBytes(StandardCharsets.ISO_8859_1));
            long millis = (System.nanoTime() - started) / 1_000_000;
            assertThat(relays.status()).isEqualTo(200);
            assertThat(millis).as("GET /relays took %d ms", millis).isLessThan(1_000);
        }
    }

    /** The first line of the answer, read byte by byte so that the rest stays to be read. */
    private static String statusLine(Socket socket) throws IOException {
        socket.setSoTimeout(10_000);
        StringBuilder line = new StringBuilder();
        for (int read; (read = socket.getInputStream().read()) >= 0 && read != '\n'; ) {
            line.append((char) read);
        }
        return line.toString();
    }

    /** One byte on every connection every 500 ms, until interrupted or every connection is gone. */
    private static void trickle(List<Socket> sockets, char fill) {
        List<Socket> open = new ArrayList<>(sockets);
        while (!open.isEmpty() && !Thread.currentThread().isInterrupted()) {
            open.removeIf(socket -> {
                try {
                    socket.getOutputStream().write(fill);
                    return false;
                } catch (IOException e) {
                    return true;
                }
            });
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private static void send(Socket socket, String text) {
        try {
            OutputStream out = socket.getOutputStream();
            out.write(text.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static InetAddress attacker(int index) {
        try {
            return InetAddress.getByAddress(new byte[] {127, 0, 0, (byte) (10 + index)});
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    private static long openDescriptors() {
        try (Stream<Path> descriptors = Files.list(Path.of("/proc/self/fd"))) {
            return descriptors.count();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
