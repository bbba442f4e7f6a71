package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.onionrelay.credential.CredentialException;
import dev.onionrelay.credential.CredentialStore;
import dev.onionrelay.credential.NewCredential;
import dev.onionrelay.credential.StoreKeyMaterial;
import dev.onionrelay.layer.TlsContexts;
import dev.onionrelay.layer.TlsProvider;
import dev.onionrelay.registry.RelayLimits;
import dev.onionrelay.registry.RelayPolicy;
import dev.onionrelay.registry.RelayRegistry;
import dev.onionrelay.registry.RelayStore;
import dev.onionrelay.registry.StoredRelay;
import dev.onionrelay.support.Layers;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.Scenario;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A credential cannot be deleted while a relay that uses it is being created: the relay holds its credentials in the
 * store before it looks them up, so of a create and a delete that overlap exactly one wins, whatever the timing. The
 * overlap is made certain here by holding the create inside its save until the delete has answered.
 */
@Scenario
class CredentialInUseTest {

    private final CredentialStore credentials = new CredentialStore(null);
    private final CountDownLatch saving = new CountDownLatch(1);
    private final CountDownLatch mayFinishSaving = new CountDownLatch(1);
    private final RelayRegistry service = new RelayRegistry(
            new OnionEngine(Transport.preferred(), 1, TlsProvider.JDK, RelayObserver.NONE),
            new TlsContexts(new StoreKeyMaterial(credentials), TlsProvider.JDK),
            new RelayStore() {
                @Override
                public void save(StoredRelay relay) {
                    saving.countDown();
                    try {
                        mayFinishSaving.await(10, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }

                @Override
                public void delete(String id) {}

                @Override
                public List<StoredRelay> load() {
                    return List.of();
                }
            },
            new RelayPolicy(
                    List.of("loopback"),
                    List.of("0", "1024-65535"),
                    List.of("loopback"),
                    List.of("1-65535"),
                    RelayPolicy.DEFAULT_DENIED_TARGETS,
                    false),
            RelayLimits.DEFAULTS);

    @AfterEach
    void close() {
        mayFinishSaving.countDown();
        service.close();
    }

    @Test
    void aCredentialCannotBeDeletedWhileARelayThatUsesItIsBeingCreated() throws Exception {
        credentials.create(new NewCredential.GenerateCa("partner-ca", "partner CA", null));
        CompletableFuture<Relay> creating =
                CompletableFuture.supplyAsync(() -> service.create(relayTrusting("partner-ca")));
        assertThat(saving.await(10, TimeUnit.SECONDS))
                .as("the create reached its save")
                .isTrue();

        assertThatThrownBy(() -> credentials.delete("partner-ca"))
                .isInstanceOfSatisfying(CredentialException.class, e -> {
                    assertThat(e.kind()).isEqualTo(CredentialException.Kind.CONFLICT);
                    assertThat(e.getMessage()).isEqualTo("credential 'partner-ca' is used by relays [entry]");
                });

        mayFinishSaving.countDown();
        assertThat(creating.get(10, TimeUnit.SECONDS).state()).isEqualTo(RelayState.LISTENING);
        assertThat(credentials.find("partner-ca")).isPresent();
    }

    @Test
    void aRelayCreateThatFailsLetsGoOfItsCredentials() {
        credentials.create(new NewCredential.GenerateCa("partner-ca", "partner CA", null));
        mayFinishSaving.countDown();

        assertThatThrownBy(() -> service.create(relayTrusting("partner-ca", "no-such-ca")))
                .isInstanceOfSatisfying(
                        RelayException.class, e -> assertThat(e.field()).isEqualTo("egress[1].trust"));

        credentials.delete("partner-ca");
        assertThat(credentials.find("partner-ca")).isEmpty();
    }

    @Test
    void aCredentialIsFreeAgainOnceTheRelayUsingItIsDeleted() {
        credentials.create(new NewCredential.GenerateCa("partner-ca", "partner CA", null));
        mayFinishSaving.countDown();
        service.create(relayTrusting("partner-ca"));

        assertThatThrownBy(() -> credentials.delete("partner-ca")).isInstanceOf(CredentialException.class);
        service.delete("entry");
        credentials.delete("partner-ca");

        assertThat(credentials.find("partner-ca")).isEmpty();
    }

    private static RelaySpec relayTrusting(String... trust) {
        return new RelaySpec(
                "entry",
                new Endpoint("127.0.0.1", 0),
                dev.onionrelay.relay.target.TargetSpec.fixed(new Endpoint("127.0.0.1", 9)),
                List.of(),
                java.util.Arrays.stream(trust)
                        .map(name -> Layers.client(name, name, "localhost"))
                        .toList(),
                Onions.options(0, trust.length));
    }
}
