package dev.onionrelay.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.onionrelay.credential.CredentialStore;
import dev.onionrelay.credential.StoreKeyMaterial;
import dev.onionrelay.layer.ProviderChoice;
import dev.onionrelay.layer.TlsContexts;
import dev.onionrelay.layer.TlsProvider;
import dev.onionrelay.relay.Endpoint;
import dev.onionrelay.relay.OnionEngine;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayObserver;
import dev.onionrelay.relay.RelaySpec;
import dev.onionrelay.relay.RelayState;
import dev.onionrelay.relay.Transport;
import dev.onionrelay.relay.target.FixedTargetSelector;
import dev.onionrelay.relay.target.TargetSpec;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.Scenario;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Two registries ("instances") on one shared store, each listening on its own loopback address: reconcile opens
 * what another instance created, closes what it deleted, and a relay whose port is taken on one instance is FAILED
 * there only. A delete the store refuses leaves the relay serving: nothing is half-applied.
 */
@Scenario
class ReconcileWithStoreTest {

    /** A store both registries share, that can be told to refuse changes (a database that is away). */
    static final class SharedStore implements RelayStore {
        final List<StoredRelay> relays = new CopyOnWriteArrayList<>();
        final AtomicBoolean away = new AtomicBoolean();
        /** While set, a save of the relay of that name waits for {@link #release} (a database that stalls). */
        volatile @Nullable String stallSavesOf;
        /** While true, a load takes its snapshot at once and returns it only after {@link #release}. */
        volatile boolean stallLoads;

        final CountDownLatch stalled = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);

        @Override
        public void save(StoredRelay relay) {
            refuseWhileAway();
            if (relay.spec().name().equals(stallSavesOf)) {
                stall();
            }
            relays.removeIf(r -> r.id().equals(relay.id()));
            relays.add(relay);
        }

        @Override
        public void delete(String id) {
            refuseWhileAway();
            relays.removeIf(r -> r.id().equals(id));
        }

        @Override
        public List<StoredRelay> load() {
            List<StoredRelay> snapshot = List.copyOf(relays);
            if (stallLoads) {
                stall();
            }
            return snapshot;
        }

        private void stall() {
            stalled.countDown();
            try {
                release.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        private void refuseWhileAway() {
            if (away.get()) {
                throw new IllegalStateException("the store cannot be reached");
            }
        }
    }

    private final SharedStore store = new SharedStore();
    private final List<RelayRegistry> registries = new ArrayList<>();

    private RelayRegistry instance(@Nullable String bindHost) {
        CredentialStore credentials = new CredentialStore(null);
        RelayRegistry registry = new RelayRegistry(
                new OnionEngine(
                        Transport.preferred(),
                        1,
                        ProviderChoice.JDK,
                        RelayObserver.NONE,
                        new OnionEngine.Settings(
                                100,
                                Duration.ofSeconds(10),
                                FixedTargetSelector.unchecked(),
                                OnionEngine.Settings.DEFAULT_TARGET_DOWN_FOR,
                                bindHost)),
                new TlsContexts(new StoreKeyMaterial(credentials), TlsProvider.JDK),
                store,
                new RelayPolicy(
                        List.of("loopback"),
                        List.of("0", "1024-65535"),
                        List.of("loopback"),
                        List.of("1-65535"),
                        RelayPolicy.DEFAULT_DENIED_TARGETS,
                        false),
                RelayLimits.DEFAULTS,
                new ListenRetry(Duration.ofMinutes(1), Duration.ofMinutes(1)),
                RelayRequests.Defaults.standard(RelayLimits.DEFAULTS));
        registries.add(registry);
        return registry;
    }

    @AfterEach
    void close() {
        registries.forEach(RelayRegistry::close);
    }

    @Test
    void anotherInstanceOpensWhatOneCreatedOnItsOwnAddressAndClosesWhatOneDeleted() {
        RelayRegistry a = instance("127.0.0.1");
        RelayRegistry b = instance("127.0.0.2");
        Relay created = a.create(plain("shared"));
        int port = created.spec().listen().port();

        StoreSync opened = b.reconcile();

        assertThat(opened.open()).extracting(StoredRelay::id).containsExactly(created.id());
        assertThat(b.get("shared").state()).isEqualTo(RelayState.LISTENING);
        assertThat(accepts("127.0.0.2", port)).isTrue();
        assertThat(b.reconcile().isEmpty()).as("nothing more to do").isTrue();

        a.delete("shared");
        assertThat(b.reconcile().close()).containsExactly(created.id());
        assertThat(b.find("shared")).isEmpty();
        await().atMost(Duration.ofSeconds(5)).until(() -> !accepts("127.0.0.2", port));
    }

    @Test
    void aPortTakenOnOneInstanceMakesTheRelayFailedThereOnly() throws IOException {
        RelayRegistry a = instance("127.0.0.1");
        RelayRegistry b = instance("127.0.0.2");
        Relay created = a.create(plain("shared"));
        int port = created.spec().listen().port();
        try (ServerSocket squatter = new ServerSocket(port, 1, InetAddress.getByName("127.0.0.2"))) {
            b.reconcile();

            assertThat(b.get("shared").state()).isEqualTo(RelayState.FAILED);
            assertThat(b.get("shared").error()).contains("cannot listen");
            assertThat(a.get("shared").state()).isEqualTo(RelayState.LISTENING);
        }
    }

    @Test
    void aDeleteTheStoreRefusesLeavesTheRelayServing() {
        RelayRegistry a = instance("127.0.0.1");
        Relay created = a.create(plain("kept"));
        int port = created.spec().listen().port();
        store.away.set(true);

        assertThatThrownBy(() -> a.delete("kept")).hasMessageContaining("cannot be reached");

        assertThat(a.get("kept").state()).isEqualTo(RelayState.LISTENING);
        assertThat(accepts("127.0.0.1", port)).as("still listening").isTrue();
        store.away.set(false);
        a.delete("kept");
        // Asked until refused: a probe of a just-freed loopback port can rarely meet a socket that took the port (or,
        // with a source port equal to it, connect to itself), which a single probe would call "still listening".
        await().atMost(Duration.ofSeconds(5)).until(() -> !accepts("127.0.0.1", port));
    }

    @Test
    void aStalledStoreWriteHoldsUpOnlyTheCreateWaitingOnIt() throws Exception {
        RelayRegistry a = instance("127.0.0.1");
        a.create(plain("existing"));
        store.stallSavesOf = "slow";
        CompletableFuture<Relay> slow = CompletableFuture.supplyAsync(() -> a.create(plain("slow")));
        assertThat(store.stalled.await(10, TimeUnit.SECONDS)).isTrue();

        // The registry's lock is not held across the stalled write: everything else answers at once.
        assertTimeoutPreemptively(Duration.ofSeconds(1), () -> {
            Relay fast = a.create(plain("fast"));
            assertThat(accepts("127.0.0.1", fast.spec().listen().port())).isTrue();
            a.delete("existing");
            assertThat(a.list()).extracting(r -> r.spec().name()).containsExactly("fast");
            assertThatThrownBy(() -> a.create(plain("slow"))).hasMessageContaining("is being created");
            a.reconcile();
        });
        assertThat(a.find("fast"))
                .as("a sync during the stall keeps what was created")
                .isPresent();

        store.release.countDown();
        assertThat(slow.get(10, TimeUnit.SECONDS).state()).isEqualTo(RelayState.LISTENING);
        assertThat(a.reconcile().isEmpty()).as("store and instance agree").isTrue();
        assertThat(a.list()).extracting(r -> r.spec().name()).containsExactlyInAnyOrder("fast", "slow");
    }

    @Test
    void aSyncWhoseReadBeganBeforeACreateAndADeleteLeavesBothAlone() throws Exception {
        RelayRegistry a = instance("127.0.0.1");
        Relay doomed = a.create(plain("doomed"));
        store.stallLoads = true;
        CompletableFuture<StoreSync> sync = CompletableFuture.supplyAsync(a::reconcile);
        assertThat(store.stalled.await(10, TimeUnit.SECONDS)).isTrue();

        // The sync's snapshot has "doomed" and not "born": without the re-check it would close "born" as not stored
        // and open "doomed" again.
        Relay born = a.create(plain("born"));
        a.delete("doomed");
        store.release.countDown();
        StoreSync done = sync.get(10, TimeUnit.SECONDS);
        store.stallLoads = false;

        assertThat(done.isEmpty())
                .as("the sync left both writes for the next one: " + done)
                .isTrue();
        assertThat(a.list()).containsExactly(born);
        assertThat(a.find(doomed.id())).isEmpty();
        assertThat(a.reconcile().isEmpty())
                .as("the next sync finds store and instance agreeing")
                .isTrue();
    }

    private static RelaySpec plain(String name) {
        return new RelaySpec(
                name,
                new Endpoint("127.0.0.1", 0),
                TargetSpec.fixed(new Endpoint("127.0.0.1", 9)),
                List.of(),
                List.of(),
                Onions.options(0, 0));
    }

    private static boolean accepts(String host, int port) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(host, port), 1000);
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
