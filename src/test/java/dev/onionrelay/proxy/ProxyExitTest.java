package dev.onionrelay.proxy;

import static dev.onionrelay.proxy.ProxyClients.HEX;
import static dev.onionrelay.proxy.ProxyClients.connect;
import static dev.onionrelay.proxy.ProxyClients.curl;
import static dev.onionrelay.proxy.ProxyClients.head;
import static dev.onionrelay.proxy.ProxyClients.rest;
import static dev.onionrelay.proxy.ProxyClients.socksConnect;
import static dev.onionrelay.proxy.ProxyClients.socksGreeting;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.OpenSsl;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;

/**
 * CONNECT and SOCKS5 exits through a depth-2 onion, with real clients: curl through an HTTPS proxy entry and through a
 * SOCKS5 entry to an HTTPS origin, the target policy applied to every destination a client asks for, and bad input on
 * the relay port refused, counted and leaving no tunnel behind. Only the exit learns the destination: the entry
 * only wraps layers, its target is the exit.
 */
@Scenario
class ProxyExitTest {

    private static RunningService service;
    private static ApiClient api;
    /** A listener on a port outside the target port pool. */
    private static EchoServer outsidePool;
    /** A listener on a port inside the pool. */
    private static EchoServer inPool;

    private static Path directory;
    private static Path caFile;
    private static ProxyClients.Origin origin;
    private static String fileSha256;

    private static int connectEntry;
    private static int socksEntry;
    private static int httpsConnectEntry;

    @BeforeAll
    static void start(@TempDir Path temp) throws Exception {
        directory = temp;
        outsidePool = new EchoServer();
        inPool = new EchoServer();
        int excluded = outsidePool.port();
        service = RunningService.inTemporaryDirectory(
                "--onion.policy.target-hosts=127.0.0.1,localhost",
                "--onion.policy.target-ports=1-" + (excluded - 1) + "," + (excluded + 1) + "-65535");
        api = service.api();
        caFile = ProxyClients.credentials(api, directory);

        Path site = Files.createDirectories(directory.resolve("site"));
        byte[] file = new byte[1 << 20];
        new Random(15).nextBytes(file);
        Files.write(site.resolve("file"), file);
        fileSha256 =
                HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(file));
        OpenSsl.selfSignedServer(directory, "origin", "20250101000000Z", "20991231000000Z");
        origin = new ProxyClients.Origin(site, directory.resolve("origin.crt"), directory.resolve("origin.key"));

        Map<String, Object> quick = Map.of("handshakeTimeout", "1s");
        connectEntry = ProxyClients.onion(api, "connect", "connect", 0, quick);
        socksEntry = ProxyClients.onion(api, "socks", "socks5", 0, quick);
        httpsConnectEntry = ProxyClients.onion(api, "https", "connect", 1, Map.of());
    }

    @AfterAll
    static void stop() throws Exception {
        if (origin != null) {
            origin.close();
        }
        if (service != null) {
            service.close();
        }
        outsidePool.close();
        inPool.close();
    }

    private static String sha256(Path file) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }

    @Test
    void curlThroughAnHttpsProxyEntryAndAConnectExitGetsTheFileIntact() throws Exception {
        Path out = directory.resolve("via-connect");
        OpenSsl.Result curl = curl(
                directory,
                "--proxy",
                "https://127.0.0.1:" + httpsConnectEntry,
                "--proxy-cacert",
                caFile.toString(),
                "--cacert",
                "origin.crt",
                "-o",
                out.toString(),
                "https://localhost:" + origin.port + "/file");
        assertThat(curl.exitCode()).as(curl.output()).isZero();
        assertThat(sha256(out)).isEqualTo(fileSha256);
    }

    @Test
    void curlThroughASocks5ExitGetsTheFileByNameAndByAddress() throws Exception {
        Path byName = directory.resolve("via-socks-name");
        OpenSsl.Result named = curl(
                directory,
                "--socks5-hostname",
                "127.0.0.1:" + socksEntry,
                "--cacert",
                "origin.crt",
                "-o",
                byName.toString(),
                "https://localhost:" + origin.port + "/file");
        assertThat(named.exitCode()).as(named.output()).isZero();
        assertThat(sha256(byName)).isEqualTo(fileSha256);

        Path byAddress = directory.resolve("via-socks-address");
        OpenSsl.Result addressed = curl(
                directory,
                "--socks5",
                "127.0.0.1:" + socksEntry,
                "--cacert",
                "origin.crt",
                "-o",
                byAddress.toString(),
                "https://127.0.0.1:" + origin.port + "/file");
        assertThat(addressed.exitCode()).as(addressed.output()).isZero();
        assertThat(sha256(byAddress)).isEqualTo(fileSha256);
    }

    @Test
    void bytesSentWithTheRequestAreNotLostAndTheTunnelShowsWhereItWent() throws Exception {
        try (EchoServer echo = new EchoServer();
                Socket client = connect(connectEntry)) {
            OutputStream out = client.getOutputStream();
            out.write(("CONNECT localhost:" + echo.port() + " HTTP/1.1\r\nHost: localhost\r\n\r\nearly bytes")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = client.getInputStream();
            assertThat(head(in)).isEqualTo("HTTP/1.1 200 Connection Established\r\n\r\n");
            assertThat(new String(in.readNBytes(11), StandardCharsets.US_ASCII)).isEqualTo("early bytes");

            JsonNode tunnel = api.get("/relays/connect-exit/tunnels").json().get(0);
            assertThat(tunnel.get("requested").asString()).isEqualTo("localhost:" + echo.port());
            assertThat(tunnel.get("connected").get("address").asString()).isEqualTo("127.0.0.1:" + echo.port());
            assertThat(tunnel.get("connected").get("target").asString()).isEqualTo("localhost:" + echo.port());
            assertThat(tunnel.get("connected").has("index")).isFalse();
        }
        awaitNoTunnels("connect-exit");
    }

    static Stream<Arguments> deniedDestinations() {
        return Stream.of(
                Arguments.of("a host outside target-hosts", "not-listed.example", false),
                Arguments.of("a loopback address not listed", "127.0.0.2", false),
                Arguments.of("link-local (cloud metadata)", "169.254.169.254", false),
                Arguments.of("a port outside the pool", "127.0.0.1", true));
    }

    @ParameterizedTest(name = "CONNECT to {0}: 403")
    @MethodSource("deniedDestinations")
    void aConnectToADestinationPolicyDoesNotAllowGets403AndNoConnection(String what, String host, boolean outside)
            throws Exception {
        EchoServer listener = outside ? outsidePool : inPool;
        int before = listener.connections();
        try (Socket client = connect(connectEntry)) {
            client.getOutputStream()
                    .write(("CONNECT " + host + ":" + listener.port() + " HTTP/1.1\r\n\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
            InputStream in = client.getInputStream();
            assertThat(head(in)).startsWith("HTTP/1.1 403 ");
            assertThat(rest(in)).contains("not allowed");
        }
        assertThat(listener.connections()).as("no connection was made").isEqualTo(before);
        awaitNoTunnels("connect-exit");
    }

    @ParameterizedTest(name = "SOCKS5 to {0}: not allowed by ruleset")
    @MethodSource("deniedDestinations")
    void aSocksConnectToADestinationPolicyDoesNotAllowGetsNotAllowedAndNoConnection(
            String what, String host, boolean outside) throws Exception {
        EchoServer listener = outside ? outsidePool : inPool;
        int before = listener.connections();
        try (Socket client = connect(socksEntry)) {
            socksGreeting(client);
            client.getOutputStream().write(socksConnect(host, listener.port()));
            InputStream in = client.getInputStream();
            assertThat(HEX.formatHex(in.readNBytes(2))).isEqualTo("0502");
        }
        assertThat(listener.connections()).as("no connection was made").isEqualTo(before);
        awaitNoTunnels("socks-exit");
    }

    @Test
    void aRefusedDestinationGets502AndSocksConnectionRefused() throws Exception {
        int closed;
        try (EchoServer gone = new EchoServer()) {
            closed = gone.port();
        }
        try (Socket client = connect(connectEntry)) {
            client.getOutputStream()
                    .write(("CONNECT 127.0.0.1:" + closed + " HTTP/1.1\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            assertThat(head(client.getInputStream())).startsWith("HTTP/1.1 502 ");
        }
        try (Socket client = connect(socksEntry)) {
            socksGreeting(client);
            client.getOutputStream().write(socksConnect(new byte[] {127, 0, 0, 1}, closed));
            assertThat(HEX.formatHex(client.getInputStream().readNBytes(2))).isEqualTo("0505");
        }
        awaitNoTunnels("connect-exit");
        awaitNoTunnels("socks-exit");
    }

    static Stream<Arguments> badHttpInput() {
        return Stream.of(
                Arguments.of("a malformed request line", "HELLO WORLD\r\n\r\n", "HTTP/1.1 400 "),
                Arguments.of("another method", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 405 "),
                Arguments.of(
                        "an oversized header block",
                        "CONNECT localhost:1 HTTP/1.1\r\nX-Pad: " + "a".repeat(9000) + "\r\n\r\n",
                        "HTTP/1.1 431 "),
                Arguments.of(
                        "a request that never finishes",
                        "CONNECT localhost:1 HTTP/1.1\r\nHost: x\r\n",
                        "HTTP/1.1 408 "));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badHttpInput")
    void badHttpInputIsRefusedAndLeavesNoTunnel(String what, String request, String status) throws Exception {
        try (Socket client = connect(connectEntry)) {
            client.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            InputStream in = client.getInputStream();
            assertThat(head(in)).startsWith(status);
            rest(in);
        }
        awaitNoTunnels("connect-exit");
    }

    static Stream<Arguments> badSocksInput() {
        return Stream.of(
                Arguments.of("SOCKS version 4", "04010050 7f000001 00", ""),
                Arguments.of("a BIND command", "050100 05020001 7f000001 0050", "0500" + "05070001000000000000"),
                Arguments.of(
                        "an unknown address type", "050100 05010009 7f000001 0050", "0500" + "05080001000000000000"),
                Arguments.of("a request that never comes", "050100", "0500"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badSocksInput")
    void badSocksInputIsRefusedAndLeavesNoTunnel(String what, String request, String reply) throws Exception {
        try (Socket client = connect(socksEntry)) {
            client.getOutputStream().write(HEX.parseHex(request.replace(" ", "")));
            assertThat(HEX.formatHex(client.getInputStream().readAllBytes()))
                    .as("the reply, then the connection closes")
                    .isEqualTo(reply);
        }
        awaitNoTunnels("socks-exit");
    }

    @Test
    void proxyRequestsAreCountedByOutcomeWithoutDestinations() throws Exception {
        try (Socket client = connect(connectEntry)) {
            client.getOutputStream().write("HELLO\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            rest(client.getInputStream());
        }
        try (Socket client = connect(connectEntry)) {
            client.getOutputStream()
                    .write("CONNECT 169.254.169.254:80 HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            rest(client.getInputStream());
        }
        try (EchoServer echo = new EchoServer();
                Socket client = connect(connectEntry)) {
            client.getOutputStream()
                    .write(("CONNECT localhost:" + echo.port() + " HTTP/1.1\r\n\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
            assertThat(head(client.getInputStream())).startsWith("HTTP/1.1 200 ");
        }
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            String metrics = service.management().get("/actuator/prometheus").body();
            for (String outcome : List.of("granted", "denied", "bad_request")) {
                assertThat(metrics)
                        .containsPattern("onion_proxy_requests_total\\{[^}]*mode=\"connect\"[^}]*outcome=\"" + outcome
                                + "\"[^}]*relay=\"connect-exit\"[^}]*} [1-9]");
            }
            assertThat(metrics).doesNotContain("169.254.169.254");
        });
    }

    private static void awaitNoTunnels(String relay) {
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(api.get("/relays/" + relay)
                        .json()
                        .get("stats")
                        .get("activeTunnels")
                        .asInt())
                .isZero());
    }
}
