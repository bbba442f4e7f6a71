package dev.onionrelay.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.ApiClient.Response;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.FixedPorts;
import dev.onionrelay.support.HaproxyProcess;
import dev.onionrelay.support.LeakCheck;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.SquidProcess;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Chains through HTTP proxies and the PROXY protocol, with a real Squid and a real haproxy: a relay reaches its
 * target through a plain proxy ({@code target.via}) and through an HTTPS proxy hop (an egress layer's
 * {@code connect}); a proxy that refuses or never answers fails the tunnel under a named reason; a target behind
 * {@code accept-proxy} learns the original client's address.
 */
@ExtendWith(LeakCheck.class)
@Scenario
class ProxyChainTest {

    private static RunningService service;
    private static ApiClient api;
    private static SquidProcess squid;
    private static EchoServer echo;

    @BeforeAll
    static void start() throws Exception {
        squid = SquidProcess.start();
        echo = new EchoServer();
        service = RunningService.inTemporaryDirectory();
        api = service.api();
        created(api.post(
                "/credentials", Map.of("name", "ca", "generate", Map.of("ca", true, "commonName", "chain CA"))));
        created(api.post(
                "/credentials",
                Map.of(
                        "name",
                        "hop",
                        "generate",
                        Map.of(
                                "issuer",
                                "ca",
                                "commonName",
                                "localhost",
                                "dnsNames",
                                List.of("localhost"),
                                "ipAddresses",
                                List.of("127.0.0.1")))));
    }

    @AfterAll
    static void stop() throws Exception {
        if (service != null) {
            service.close();
        }
        if (echo != null) {
            echo.close();
        }
        if (squid != null) {
            squid.close();
        }
    }

    @Test
    void aRelayReachesItsTargetThroughSquidAsItsViaProxy() throws Exception {
        int port = relay(Map.of(
                "name",
                "via-squid",
                "target",
                Map.of(
                        "host",
                        "127.0.0.1",
                        "port",
                        echo.port(),
                        "via",
                        Map.of("host", "127.0.0.1", "port", squid.port()))));
        byte[] sent = pattern(100_000);
        assertThat(digest(echoThrough(port, sent)))
                .as("bytes through Squid and back")
                .isEqualTo(digest(sent));
        awaitConnectLogged("127.0.0.1:" + echo.port());
        assertThat(api.get("/relays/via-squid")
                        .json()
                        .get("target")
                        .get("via")
                        .get("port")
                        .asInt())
                .isEqualTo(squid.port());
    }

    @Test
    void aRelayReachesItsTargetThroughAnHttpsProxyHopAndAnotherLayerInsideTheConnect() throws Exception {
        // The HTTPS proxy hop: a relay that peels one TLS layer in front of Squid's plain port.
        int hop = relay(Map.of(
                "name",
                "https-proxy",
                "target",
                Map.of("host", "127.0.0.1", "port", squid.port()),
                "ingress",
                List.of(Map.of("name", "proxy-tls", "credential", "hop"))));
        // The far end: a relay that peels the inner layer in front of the echo server.
        int exit = relay(Map.of(
                "name",
                "behind-proxy",
                "target",
                Map.of("host", "127.0.0.1", "port", echo.port()),
                "ingress",
                List.of(Map.of("name", "inner", "credential", "hop"))));
        int entry = relay(Map.of(
                "name",
                "through-hop",
                "target",
                Map.of("host", "127.0.0.1", "port", hop),
                "egress",
                List.of(
                        Map.of(
                                "name",
                                "to-proxy",
                                "trust",
                                "ca",
                                "serverName",
                                "localhost",
                                "connect",
                                "127.0.0.1:" + exit),
                        // names no serverName: it verifies the host asked for through the hop, 127.0.0.1
                        Map.of("name", "inside", "trust", "ca"))));
        byte[] sent = pattern(200_000);
        assertThat(digest(echoThrough(entry, sent)))
                .as("bytes through TLS to the hop, CONNECT through Squid, TLS inside it, and back")
                .isEqualTo(digest(sent));
        awaitConnectLogged("127.0.0.1:" + exit);
        Response shown = api.get("/relays/through-hop");
        assertThat(shown.json().get("egress").get(0).get("connect").asString()).isEqualTo("127.0.0.1:" + exit);
        assertThat(shown.json().get("egress").get(1).get("serverName").asString())
                .isEqualTo("127.0.0.1");
    }

    @Test
    void aProxyThatCannotReachTheTargetFailsTheTunnelUnderItsReason() throws Exception {
        int closedPort = FixedPorts.free();
        int port = relay(Map.of(
                "name",
                "squid-refuses",
                "target",
                Map.of(
                        "host",
                        "127.0.0.1",
                        "port",
                        closedPort,
                        "via",
                        Map.of("host", "127.0.0.1", "port", squid.port()))));
        assertTunnelEnds(port);
        awaitFailureCounted("squid-refuses", "proxy_refused");
        // Squid's own refusal: 503 when the target refuses its connection.
        awaitConnectLogged("127.0.0.1:" + closedPort);
    }

    @ParameterizedTest(name = "a proxy that answers {0}")
    @CsvSource({"403 Forbidden, proxy_refused", "502 Bad Gateway, proxy_refused", "SSH-2.0-not-http, proxy_bad_answer"})
    void aProxyThatRefusesFailsTheTunnelAndLeavesNothingBehind(String answer, String reason) throws Exception {
        String name = "answers-" + answer.substring(0, 3).toLowerCase();
        String reply =
                answer.startsWith("SSH") ? answer + "\r\n\r\n" : "HTTP/1.1 " + answer + "\r\nContent-Length: 0\r\n\r\n";
        try (FakeProxy proxy = new FakeProxy(reply)) {
            int port = relay(Map.of(
                    "name",
                    name,
                    "target",
                    Map.of(
                            "host",
                            "127.0.0.1",
                            "port",
                            echo.port(),
                            "via",
                            Map.of("host", "127.0.0.1", "port", proxy.port()))));
            int before = echo.connections();
            assertTunnelEnds(port);
            awaitFailureCounted(name, reason);
            assertThat(proxy.requests())
                    .singleElement()
                    .asString()
                    .startsWith("CONNECT 127.0.0.1:" + echo.port() + " HTTP/1.1\r\nHost: 127.0.0.1:" + echo.port()
                            + "\r\n");
            await().atMost(Duration.ofSeconds(5)).until(proxy::allClosed);
            assertThat(echo.connections()).as("nothing reached the target").isEqualTo(before);
        }
    }

    @Test
    void aProxyThatNeverAnswersTimesOutTheTunnel() throws Exception {
        try (FakeProxy silent = new FakeProxy(null)) {
            int port = relay(Map.of(
                    "name",
                    "silent-proxy",
                    "target",
                    Map.of(
                            "host",
                            "127.0.0.1",
                            "port",
                            echo.port(),
                            "via",
                            Map.of("host", "127.0.0.1", "port", silent.port())),
                    "options",
                    Map.of("connectTimeout", "1s")));
            assertTunnelEnds(port);
            awaitFailureCounted("silent-proxy", "proxy_timeout");
            await().atMost(Duration.ofSeconds(5)).until(silent::allClosed);
        }
    }

    @Test
    void aProxyHopThatRefusesInsideItsLayerFailsTheTunnel() throws Exception {
        try (FakeProxy refusing = new FakeProxy("HTTP/1.1 403 Forbidden\r\n\r\n")) {
            int hop = relay(Map.of(
                    "name",
                    "refusing-https-proxy",
                    "target",
                    Map.of("host", "127.0.0.1", "port", refusing.port()),
                    "ingress",
                    List.of(Map.of("credential", "hop"))));
            int entry = relay(Map.of(
                    "name",
                    "through-refusing-hop",
                    "target",
                    Map.of("host", "127.0.0.1", "port", hop),
                    "egress",
                    List.of(Map.of("trust", "ca", "serverName", "localhost", "connect", "127.0.0.1:" + echo.port()))));
            assertTunnelEnds(entry);
            awaitFailureCounted("through-refusing-hop", "proxy_refused");
            assertThat(refusing.requests()).singleElement().asString().startsWith("CONNECT 127.0.0.1:" + echo.port());
        }
    }

    @ParameterizedTest(name = "PROXY protocol {0}, via Squid: {1}")
    @CsvSource({"v1, false", "v2, false", "v2, true"})
    void aTargetBehindAcceptProxySeesTheOriginalClient(String version, boolean viaSquid) throws Exception {
        try (HaproxyProcess haproxy = HaproxyProcess.acceptingProxyProtocol()) {
            Map<String, Object> target =
                    new HashMap<>(Map.of("host", "127.0.0.1", "port", haproxy.port(), "proxyProtocol", version));
            if (viaSquid) {
                target.put("via", Map.of("host", "127.0.0.1", "port", squid.port()));
            }
            int port = relay(Map.of("name", "proxy-protocol-" + version + "-" + viaSquid, "target", target));
            try (Socket client = new Socket(InetAddress.getLoopbackAddress(), port)) {
                client.setSoTimeout(10_000);
                client.getOutputStream()
                        .write("GET / HTTP/1.0\r\nHost: seen\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                String answer = new String(client.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
                assertThat(answer)
                        .as(haproxy.output())
                        .startsWith("HTTP/1.1 200")
                        .endsWith("client 127.0.0.1:" + client.getLocalPort() + "\n");
            }
        }
    }

    @Test
    void proxyHopsPassTheTargetPolicyAndAreNotPushedOnLiveTunnels() throws Exception {
        Response metadataVia = api.post(
                "/relays",
                Map.of(
                        "name",
                        "metadata-via",
                        "target",
                        Map.of(
                                "host",
                                "127.0.0.1",
                                "port",
                                echo.port(),
                                "via",
                                Map.of("host", "169.254.169.254", "port", 80))));
        assertProblem(metadataVia, 403, "target.via");
        Response metadataHop = api.post(
                "/relays",
                Map.of(
                        "name",
                        "metadata-hop",
                        "target",
                        Map.of("host", "127.0.0.1", "port", echo.port()),
                        "egress",
                        List.of(Map.of("trust", "ca", "connect", "169.254.169.254:80"))));
        assertProblem(metadataHop, 403, "egress[0].connect");
        assertThat(api.get("/relays/metadata-via").status())
                .as("nothing half-created")
                .isEqualTo(404);
        assertThat(api.get("/relays/metadata-hop").status()).isEqualTo(404);

        int port = relay(Map.of("name", "live", "target", Map.of("host", "127.0.0.1", "port", echo.port())));
        try (Socket client = new Socket(InetAddress.getLoopbackAddress(), port)) {
            await().atMost(Duration.ofSeconds(5))
                    .until(() -> api.get("/relays/live/tunnels").json().size() == 1);
            String tunnel =
                    api.get("/relays/live/tunnels").json().get(0).get("id").asString();
            Response pushed = api.post(
                    "/relays/live/tunnels/" + tunnel + "/egress/layers",
                    Map.of("name", "late", "trust", "ca", "connect", "127.0.0.1:" + echo.port()));
            assertProblem(pushed, 400, "connect");
            assertThat(api.get("/relays/live/tunnels")
                            .json()
                            .get(0)
                            .get("egress")
                            .get("depth")
                            .asInt())
                    .as("nothing pushed")
                    .isZero();
        }
    }

    @Test
    void aDeclaredRelayTakesItsViaProxyAndProxyProtocolFromConfiguration() throws Exception {
        try (RunningService declared = RunningService.inTemporaryDirectory(
                "--onion.relays[0].name=declared-via",
                "--onion.relays[0].target.host=127.0.0.1",
                "--onion.relays[0].target.port=" + echo.port(),
                "--onion.relays[0].target.via.host=127.0.0.1",
                "--onion.relays[0].target.via.port=" + squid.port(),
                "--onion.relays[0].target.proxyProtocol=v1")) {
            Response relay = declared.api().get("/relays/declared-via");
            assertThat(relay.status()).as(relay.toString()).isEqualTo(200);
            assertThat(relay.json().get("target").get("via").get("port").asInt())
                    .isEqualTo(squid.port());
            assertThat(relay.json().get("target").get("proxyProtocol").asString())
                    .isEqualTo("v1");
            int port = relay.json().get("listen").get("port").asInt();
            try (Socket client = new Socket(InetAddress.getLoopbackAddress(), port)) {
                client.setSoTimeout(10_000);
                client.getOutputStream().write("after the header\n".getBytes(StandardCharsets.US_ASCII));
                byte[] expected = ("PROXY TCP4 127.0.0.1 127.0.0.1 " + client.getLocalPort() + " " + port
                                + "\r\nafter the header\n")
                        .getBytes(StandardCharsets.US_ASCII);
                assertThat(new String(client.getInputStream().readNBytes(expected.length), StandardCharsets.US_ASCII))
                        .as("the echo target returns the PROXY line it got first through Squid, then the data")
                        .isEqualTo(new String(expected, StandardCharsets.US_ASCII));
            }
        }
    }

    // --- helpers

    private static int relay(Map<String, Object> body) {
        Response response = api.post("/relays", body);
        created(response);
        return response.json().get("listen").get("port").asInt();
    }

    private static void created(Response response) {
        assertThat(response.status()).as(response.toString()).isEqualTo(201);
    }

    private static void assertProblem(Response response, int status, String field) {
        assertThat(response.status()).as(response.toString()).isEqualTo(status);
        assertThat(response.contentType()).startsWith("application/problem+json");
        assertThat(response.json().get("errors").get(0).get("field").asString()).isEqualTo(field);
    }

    private static String digest(byte[] bytes) throws Exception {
        return bytes.length + " bytes, SHA-256 "
                + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    private static byte[] pattern(int size) {
        byte[] bytes = new byte[size];
        for (int i = 0; i < size; i++) {
            bytes[i] = (byte) (i * 31 + (i >> 8));
        }
        return bytes;
    }

    /** Sends {@code sent} through the relay on {@code port} and reads the echo. */
    private static byte[] echoThrough(int port, byte[] sent) throws Exception {
        try (Socket client = new Socket(InetAddress.getLoopbackAddress(), port)) {
            client.setSoTimeout(20_000);
            Thread writer = new Thread(() -> {
                try {
                    // No end of the client's direction: Squid ends a CONNECT tunnel as a whole when one side does.
                    client.getOutputStream().write(sent);
                } catch (IOException e) {
                    // the read below fails the test
                }
            });
            writer.start();
            ByteArrayOutputStream back = new ByteArrayOutputStream();
            InputStream in = client.getInputStream();
            byte[] buffer = new byte[16 * 1024];
            int n;
            while (back.size() < sent.length && (n = in.read(buffer)) > 0) {
                back.write(buffer, 0, n);
            }
            writer.join(10_000);
            return back.toByteArray();
        }
    }

    /** The client's connection ends without a byte of answer, and the relay keeps no tunnel for it. */
    private static void assertTunnelEnds(int port) throws Exception {
        try (Socket client = new Socket(InetAddress.getLoopbackAddress(), port)) {
            client.setSoTimeout(10_000);
            client.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
            int read;
            try {
                read = client.getInputStream().read();
            } catch (SocketException reset) {
                read = -1;
            }
            assertThat(read).as("the relay ends the tunnel").isEqualTo(-1);
        }
    }

    private static void awaitFailureCounted(String relay, String reason) {
        Pattern sample = Pattern.compile("(?m)^onion_connect_failures_total\\{(?=[^}]*relay=\"" + Pattern.quote(relay)
                + "\")(?=[^}]*reason=\"" + reason + "\")[^}]*} 1\\.0$");
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            assertThat(api.get("/relays/" + relay)
                            .json()
                            .get("stats")
                            .get("connectFailures")
                            .asLong())
                    .isEqualTo(1);
            assertThat(api.get("/relays/" + relay + "/tunnels").json().size()).isZero();
            assertThat(service.management().get("/actuator/prometheus").body()).containsPattern(sample);
        });
    }

    private static void awaitConnectLogged(String destination) {
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(squid.accessLog())
                .as(squid.cacheLog())
                .anyMatch(line -> line.contains(" CONNECT " + destination + " ")));
    }

    /** A scripted HTTP proxy on loopback: reads a request and answers {@code reply}, or never answers (null). */
    private static final class FakeProxy implements AutoCloseable {

        private final ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        private final List<Socket> sockets = new CopyOnWriteArrayList<>();
        private final List<String> requests = new CopyOnWriteArrayList<>();
        private final List<Boolean> closed = new CopyOnWriteArrayList<>();

        FakeProxy(String reply) throws IOException {
            Thread acceptor = new Thread(() -> {
                while (!server.isClosed()) {
                    try {
                        Socket socket = server.accept();
                        sockets.add(socket);
                        Thread peer = new Thread(() -> serve(socket, reply));
                        peer.setDaemon(true);
                        peer.start();
                    } catch (IOException stopped) {
                        return;
                    }
                }
            });
            acceptor.setDaemon(true);
            acceptor.start();
        }

        private void serve(Socket socket, String reply) {
            try {
                InputStream in = socket.getInputStream();
                ByteArrayOutputStream request = new ByteArrayOutputStream();
                while (!request.toString(StandardCharsets.ISO_8859_1).contains("\r\n\r\n")) {
                    int b = in.read();
                    if (b < 0) {
                        break;
                    }
                    request.write(b);
                }
                requests.add(request.toString(StandardCharsets.ISO_8859_1));
                if (reply != null) {
                    socket.getOutputStream().write(reply.getBytes(StandardCharsets.ISO_8859_1));
                }
                // Whatever else comes, until the relay closes its end.
                while (in.read() >= 0) {
                    // drained
                }
            } catch (IOException reset) {
                // closed by the relay
            }
            closed.add(true);
        }

        int port() {
            return server.getLocalPort();
        }

        List<String> requests() {
            return new ArrayList<>(requests);
        }

        boolean allClosed() {
            return !sockets.isEmpty() && closed.size() == sockets.size();
        }

        @Override
        public void close() throws IOException {
            server.close();
            for (Socket socket : sockets) {
                socket.close();
            }
        }
    }
}
