package dev.onionrelay.support;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * A depth-2 onion built over the REST API, as a user builds one: a development CA {@code ca}, an identity {@code hop}
 * issued by it (for localhost and 127.0.0.1-3), an exit relay that peels two layers both presenting {@code hop} in
 * front of a target, and an entry relay that wraps two layers trusting {@code ca} towards the exit. Plus a look at
 * what an exit presents, layer by layer, from an independent TLS client (the JDK's, one socket layered in the other).
 */
public final class ApiOnion {

    private ApiOnion() {}

    /** Creates {@code ca} and {@code hop} (common name {@code hopCommonName}). */
    public static void credentials(ApiClient api, String hopCommonName) {
        created(api.post("/credentials", """
                {"name":"ca","generate":{"ca":true,"commonName":"onion test CA 1"}}"""));
        created(api.post("/credentials", "{\"name\":\"hop\",\"generate\":" + hopRequest(hopCommonName) + "}"));
    }

    /** The {@code generate} block of {@code hop}, as a create or a rotation sends it. */
    public static String hopRequest(String commonName) {
        return """
                {"issuer":"ca","commonName":"%s","dnsNames":["localhost"],
                 "ipAddresses":["127.0.0.1","127.0.0.2","127.0.0.3"]}""".formatted(commonName);
    }

    /** The exit: two ingress layers presenting {@code hop}, then {@code target}. */
    public static String exit(int listenPort, int targetPort) {
        return """
                {"name":"exit","listen":{"host":"127.0.0.1","port":%d},"target":{"host":"127.0.0.1","port":%d},
                 "ingress":[{"name":"outer","credential":"hop"},{"name":"inner","credential":"hop"}]}""".formatted(listenPort, targetPort);
    }

    /** The entry: plain in, two egress layers trusting {@code ca} towards the exit. */
    public static String entry(int listenPort, int exitPort) {
        return """
                {"name":"entry","listen":{"host":"127.0.0.1","port":%d},"target":{"host":"127.0.0.1","port":%d},
                 "egress":[{"name":"outer","trust":"ca","serverName":"localhost"},
                           {"name":"inner","trust":"ca","serverName":"localhost"}]}""".formatted(listenPort, exitPort);
    }

    /** Asserts a 201 and returns the created relay's listen port. */
    public static int created(ApiClient.Response response) {
        assertThat(response.status()).as(response.toString()).isEqualTo(201);
        return response.json().at("/listen/port").asInt();
    }

    /**
     * The leaf certificate each of {@code depth} layers of the relay at {@code host:port} presents to a new
     * connection, outermost first: a full handshake per layer (each socket's own context, so nothing is resumed). Trusts
     * anything: this reads what is presented, it does not judge it.
     */
    public static List<X509Certificate> presented(String host, int port, int depth) throws Exception {
        List<X509Certificate> leaves = new ArrayList<>();
        Socket socket = new Socket();
        socket.connect(new InetSocketAddress(host, port), 5_000);
        socket.setSoTimeout(10_000);
        try {
            Socket layer = socket;
            for (int i = 0; i < depth; i++) {
                SSLSocketFactory factory = trustingAnything().getSocketFactory();
                SSLSocket tls = (SSLSocket) factory.createSocket(layer, "localhost", port, true);
                tls.startHandshake();
                leaves.add((X509Certificate) tls.getSession().getPeerCertificates()[0]);
                layer = tls;
            }
            layer.close();
        } finally {
            socket.close();
        }
        return leaves;
    }

    /** The serial numbers {@link #presented} shows, in the API's form (lowercase hex). */
    public static List<String> serials(String host, int port, int depth) throws Exception {
        return presented(host, port, depth).stream()
                .map(X509Certificate::getSerialNumber)
                .map(serial -> serial.toString(16))
                .toList();
    }

    /**
     * Sends {@code bytes} pseudo-random bytes to {@code host:port} and reads as many back (an echo behind it), then
     * closes: whether they came back intact. False when the connection is refused or closed early.
     */
    public static boolean roundTrip(String host, int port, int bytes) {
        byte[] sent = new byte[bytes];
        new java.util.Random(bytes).nextBytes(sent);
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(host, port), 5_000);
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(sent);
            socket.getOutputStream().flush();
            byte[] back = socket.getInputStream().readNBytes(bytes);
            return java.util.Arrays.equals(sent, back);
        } catch (java.io.IOException e) {
            return false;
        }
    }

    /** The serial of a credential as the API shows it. */
    public static String serial(ApiClient api, String credential) {
        return api.get("/credentials/" + credential).json().at("/serial").asString();
    }

    /**
     * A TLS client layer over {@code layer} (a connected socket, or a layer already over one), handshake done; trusts
     * anything, as {@link #presented} does. Lets a test connect first and start the handshake when it chooses.
     */
    public static SSLSocket tlsOver(Socket layer, int port) throws Exception {
        SSLSocket tls = (SSLSocket) trustingAnything().getSocketFactory().createSocket(layer, "localhost", port, true);
        tls.startHandshake();
        return tls;
    }

    private static SSLContext trustingAnything() throws Exception {
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(
                null,
                new TrustManager[] {
                    new X509TrustManager() {
                        @Override
                        public void checkClientTrusted(X509Certificate[] chain, String authType) {}

                        @Override
                        public void checkServerTrusted(X509Certificate[] chain, String authType) {}

                        @Override
                        public X509Certificate[] getAcceptedIssuers() {
                            return new X509Certificate[0];
                        }
                    }
                },
                null);
        return context;
    }
}
