package dev.onionrelay.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.ApiClient.Response;
import dev.onionrelay.support.OpenSsl;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * What the proxy-mode tests share: relays made over the API (an exit in a proxy mode behind its own ingress layers, an
 * entry that only wraps layers), a raw client speaking CONNECT or SOCKS5 through them, curl, and an HTTPS origin.
 */
final class ProxyClients {

    static final HexFormat HEX = HexFormat.of();

    private ProxyClients() {}

    /** A CA {@code ca} and a hop identity {@code hop} for localhost and 127.0.0.1; returns the CA certificate file. */
    static Path credentials(ApiClient api, Path directory) throws IOException {
        created(api.post(
                "/credentials", Map.of("name", "ca", "generate", Map.of("ca", true, "commonName", "test CA"))));
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
        Path ca = directory.resolve("ca.pem");
        Files.writeString(ca, api.get("/credentials/ca/certificate").body());
        return ca;
    }

    static Response created(Response response) {
        assertThat(response.status()).as(response.toString()).isEqualTo(201);
        return response;
    }

    static List<Map<String, Object>> serverLayers(int count) {
        List<Map<String, Object>> layers = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            layers.add(Map.of("name", "in" + i, "credential", "hop"));
        }
        return layers;
    }

    static List<Map<String, Object>> clientLayers(int count) {
        List<Map<String, Object>> layers = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            layers.add(Map.of("name", "out" + i, "trust", "ca", "serverName", "localhost"));
        }
        return layers;
    }

    /** Creates a relay; returns its listening port. */
    static int relay(ApiClient api, String name, Map<String, Object> target, int ingress, int egress) {
        return relay(api, name, target, ingress, egress, Map.of());
    }

    static int relay(
            ApiClient api,
            String name,
            Map<String, Object> target,
            int ingress,
            int egress,
            Map<String, Object> options) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("name", name);
        body.put("listen", Map.of("host", "127.0.0.1", "port", 0));
        body.put("target", target);
        body.put("ingress", serverLayers(ingress));
        body.put("egress", clientLayers(egress));
        body.put("options", options);
        return created(api.post("/relays", body))
                .json()
                .get("listen")
                .get("port")
                .asInt();
    }

    /** An exit in {@code mode} peeling two layers, and an entry in front of it wrapping them; returns the entry's port. */
    static int onion(ApiClient api, String name, String mode, int entryIngress, Map<String, Object> exitOptions) {
        int exit = relay(api, name + "-exit", Map.of("mode", mode), 2, 0, exitOptions);
        return relay(api, name + "-entry", Map.of("host", "127.0.0.1", "port", exit), entryIngress, 2);
    }

    static Socket connect(int port) throws IOException {
        Socket socket = new Socket(InetAddress.getLoopbackAddress(), port);
        socket.setSoTimeout(15_000);
        return socket;
    }

    /** The response head (up to the empty line), or what came before the connection closed. */
    static String head(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                break;
            }
            head.write(b);
        }
        return head.toString(StandardCharsets.ISO_8859_1);
    }

    /** Everything until the peer closes. */
    static String rest(InputStream in) throws IOException {
        return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
    }

    /** SOCKS5 without authentication: the method selection, checked. */
    static void socksGreeting(Socket socket) throws IOException {
        socket.getOutputStream().write(HEX.parseHex("050100"));
        assertThat(HEX.formatHex(socket.getInputStream().readNBytes(2))).isEqualTo("0500");
    }

    /** A SOCKS5 CONNECT to a domain name. */
    static byte[] socksConnect(String host, int port) {
        byte[] name = host.getBytes(StandardCharsets.US_ASCII);
        byte[] request = new byte[7 + name.length];
        request[0] = 5;
        request[1] = 1;
        request[3] = 3;
        request[4] = (byte) name.length;
        System.arraycopy(name, 0, request, 5, name.length);
        request[5 + name.length] = (byte) (port >> 8);
        request[6 + name.length] = (byte) port;
        return request;
    }

    /** A SOCKS5 CONNECT to an IPv4 address. */
    static byte[] socksConnect(byte[] ipv4, int port) {
        return new byte[] {5, 1, 0, 1, ipv4[0], ipv4[1], ipv4[2], ipv4[3], (byte) (port >> 8), (byte) port};
    }

    /** Runs curl; returns its exit code and output. */
    static OpenSsl.Result curl(Path directory, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("curl", "-sS", "--max-time", "30"));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command)
                .directory(directory.toFile())
                .redirectErrorStream(true)
                .start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return new OpenSsl.Result(process.exitValue(), output);
    }

    /** An HTTPS file server (python3) on 127.0.0.1 serving {@code directory} with the given certificate and key. */
    static final class Origin implements AutoCloseable {

        private final Process process;
        final int port;

        Origin(Path directory, Path certificate, Path key) throws IOException {
            String script = """
                    import http.server, ssl, sys, os
                    os.chdir(sys.argv[1])
                    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                    context.load_cert_chain(sys.argv[2], sys.argv[3])
                    class Quiet(http.server.SimpleHTTPRequestHandler):
                        def log_message(self, *args):
                            pass
                    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Quiet)
                    server.socket = context.wrap_socket(server.socket, server_side=True)
                    print(server.server_address[1], flush=True)
                    server.serve_forever()
                    """;
            process = new ProcessBuilder(
                            "python3", "-c", script, directory.toString(), certificate.toString(), key.toString())
                    .redirectErrorStream(true)
                    .start();
            String line = new java.io.BufferedReader(
                            new java.io.InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))
                    .readLine();
            assertThat(line).as("the origin's port").isNotNull().matches("\\d+");
            port = Integer.parseInt(line);
        }

        @Override
        public void close() {
            process.destroy();
        }
    }
}
