package dev.onionrelay.support;

import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.relay.Relay;
import java.util.List;

/**
 * A depth-2 onion peeled one layer per hop, with a recording proxy on each wire, so a test can read each layer's
 * records:
 *
 * <pre>
 * client -> entry [egress L0, L1] -> (wire A) -> hop0 [ingress L0] -> (wire B) -> hop1 [ingress L1] -> echo target
 * </pre>
 *
 * Wire A carries L0's records; wire B is L0's plaintext, so it carries L1's records. The entry's layers speak TLS 1.3
 * only, whatever the provider prefers.
 */
public final class WiredOnion implements AutoCloseable {

    public final Onions onions = new Onions();
    public final EchoServer target;
    public final RecordingProxy wireA;
    public final RecordingProxy wireB;
    public final Relay entry;

    public WiredOnion() throws Exception {
        onions.pki.ca("ca");
        onions.pki.leaf("hop0", "ca");
        onions.pki.leaf("hop1", "ca");
        target = new EchoServer();
        Relay hop1 = onions.relay("hop1", target.port(), List.of(Layers.server("L1", "hop1")), List.of());
        wireB = new RecordingProxy(Onions.port(hop1));
        Relay hop0 = onions.relay("hop0", wireB.port(), List.of(Layers.server("L0", "hop0")), List.of());
        wireA = new RecordingProxy(Onions.port(hop0));
        entry = onions.relay("entry", wireA.port(), List.of(), List.of(tls13Client("L0"), tls13Client("L1")));
    }

    private static LayerSpec tls13Client(String name) {
        return Layers.withProtocols(Layers.client(name, "ca", "localhost"), List.of("TLSv1.3"));
    }

    public int entryPort() {
        return Onions.port(entry);
    }

    @Override
    public void close() throws Exception {
        onions.close();
        wireA.close();
        wireB.close();
        target.close();
    }
}
