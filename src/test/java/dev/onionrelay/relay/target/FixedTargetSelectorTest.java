package dev.onionrelay.relay.target;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.registry.RelayPolicy;
import dev.onionrelay.relay.Endpoint;
import io.netty.util.concurrent.DefaultEventExecutor;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Where a tunnel connects: a configured address literal is used as it is; a name is resolved off the event loop and
 * what it resolves to goes through the address check, and the tunnel gets the very address the check chose (no
 * second lookup that DNS rebinding could answer differently); a client-named destination is checked by host and port
 * before any lookup, then by address. Refusals carry their reason ({@code policy}, {@code unresolved}). No DNS server
 * is needed: names are {@code localhost} (the hosts file), numeric forms Java reads without a lookup, and a bracketed
 * string that is not an address, which fails at once.
 */
class FixedTargetSelectorTest {

    /** Stands for the tunnel's event loop. */
    private static final EventExecutor LOOP = new DefaultEventExecutor();

    /** A host that never resolves, without asking any DNS server: brackets promise an IPv6 literal. */
    private static final String UNRESOLVABLE = "[not-an-address]";

    private final List<FixedTargetSelector> selectors = new ArrayList<>();

    @AfterEach
    void closeSelectors() {
        selectors.forEach(FixedTargetSelector::close);
    }

    @AfterAll
    static void stopLoop() {
        LOOP.shutdownGracefully(0, 0, TimeUnit.SECONDS);
    }

    private FixedTargetSelector selector(
            FixedTargetSelector.AddressCheck check, FixedTargetSelector.DestinationCheck destinations) {
        FixedTargetSelector selector = new FixedTargetSelector(check, destinations);
        selectors.add(selector);
        return selector;
    }

    /** An address check that records what it was shown and chooses with {@code choice}. */
    private static final class RecordingCheck implements FixedTargetSelector.AddressCheck {
        final List<List<InetAddress>> shown = new CopyOnWriteArrayList<>();
        final java.util.function.Function<List<InetAddress>, Optional<InetAddress>> choice;

        RecordingCheck(java.util.function.Function<List<InetAddress>, Optional<InetAddress>> choice) {
            this.choice = choice;
        }

        @Override
        public Optional<InetAddress> choose(List<InetAddress> resolved) {
            shown.add(List.copyOf(resolved));
            return choice.apply(resolved);
        }
    }

    private static InetAddress ip(String literal) {
        InetAddress address = FixedTargetSelector.literal(literal);
        assertThat(address).as(literal).isNotNull();
        return address;
    }

    private static InetSocketAddress done(Future<InetSocketAddress> future) throws InterruptedException {
        assertThat(future.await(5, TimeUnit.SECONDS))
                .as("the selection completes")
                .isTrue();
        assertThat(future.cause()).as("no refusal").isNull();
        return future.getNow();
    }

    private static TargetRefusedException refused(Future<InetSocketAddress> future) throws InterruptedException {
        assertThat(future.await(5, TimeUnit.SECONDS))
                .as("the selection completes")
                .isTrue();
        assertThat(future.cause()).isInstanceOf(TargetRefusedException.class);
        return (TargetRefusedException) future.cause();
    }

    // --- configured targets (select) ---

    static Stream<Arguments> literals() {
        return Stream.of(
                Arguments.of("127.0.0.1", "127.0.0.1"),
                Arguments.of("10.1.2.3", "10.1.2.3"),
                Arguments.of("::1", "::1"),
                Arguments.of("[::1]", "::1"),
                Arguments.of("2001:db8::17", "2001:db8::17"),
                Arguments.of("[2001:db8::17]", "2001:db8::17"),
                Arguments.of("::ffff:192.0.2.1", "192.0.2.1"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("literals")
    void aConfiguredAddressIsUsedAsItIsWithoutLookupOrCheck(String host, String address) throws Exception {
        RecordingCheck check = new RecordingCheck(resolved -> Optional.empty());
        Future<InetSocketAddress> future = selector(check, null).select(new Endpoint(host, 8443), LOOP);
        assertThat(future.isDone()).as("no lookup, so no wait").isTrue();
        InetSocketAddress selected = done(future);
        assertThat(selected.getAddress()).isEqualTo(InetAddress.getByName(address));
        assertThat(selected.getPort()).isEqualTo(8443);
        assertThat(check.shown)
                .as("checked when the relay was created, not again")
                .isEmpty();
    }

    @Test
    void aConfiguredNameConnectsToTheAddressTheCheckChose() throws Exception {
        InetAddress[] resolved = InetAddress.getAllByName("localhost");
        InetAddress chosen = resolved[resolved.length - 1];
        RecordingCheck check = new RecordingCheck(addresses -> Optional.of(addresses.get(addresses.size() - 1)));
        InetSocketAddress selected = done(selector(check, null).select(new Endpoint("localhost", 7000), LOOP));
        assertThat(check.shown).containsExactly(List.of(resolved));
        assertThat(selected.isUnresolved()).isFalse();
        assertThat(selected.getAddress())
                .as("no second lookup")
                .isSameAs(check.shown.get(0).get(resolved.length - 1));
        assertThat(selected.getAddress()).isEqualTo(chosen);
        assertThat(selected.getPort()).isEqualTo(7000);
    }

    @Test
    void theTunnelGetsWhatTheCheckReturnedNotAFreshLookup() throws Exception {
        // A check that answers with an address of its own (as a rebinding-proof resolver would pin one) is obeyed.
        InetAddress pinned = ip("127.0.0.9");
        RecordingCheck check = new RecordingCheck(addresses -> Optional.of(pinned));
        InetSocketAddress selected = done(selector(check, null).select(new Endpoint("localhost", 7000), LOOP));
        assertThat(selected.getAddress()).isSameAs(pinned);
    }

    @Test
    void aNameThatResolvesOnlyToRefusedAddressesIsRefusedByPolicy() throws Exception {
        RecordingCheck check = new RecordingCheck(addresses -> Optional.empty());
        TargetRefusedException refusal = refused(selector(check, null).select(new Endpoint("localhost", 7000), LOOP));
        assertThat(refusal.reason()).isEqualTo("policy");
        assertThat(refusal.getMessage()).contains("localhost resolves to").contains("127.0.0.1");
        assertThat(check.shown).hasSize(1);
    }

    @Test
    void aNameThatDoesNotResolveIsRefusedAsUnresolvedWithoutAskingTheCheck() throws Exception {
        RecordingCheck check = new RecordingCheck(addresses -> Optional.of(addresses.get(0)));
        TargetRefusedException refusal = refused(selector(check, null).select(new Endpoint(UNRESOLVABLE, 7000), LOOP));
        assertThat(refusal.reason()).isEqualTo("unresolved");
        assertThat(refusal.getMessage()).startsWith(UNRESOLVABLE + ": ");
        assertThat(check.shown).isEmpty();
    }

    @Test
    void namesAreResolvedOffTheEventLoopAndTheResultCompletesOnIt() throws Exception {
        AtomicBoolean checkedOnLoop = new AtomicBoolean(true);
        RecordingCheck check = new RecordingCheck(addresses -> {
            checkedOnLoop.set(LOOP.inEventLoop());
            return Optional.of(addresses.get(0));
        });
        Future<InetSocketAddress> future = selector(check, null).select(new Endpoint("localhost", 7000), LOOP);
        AtomicBoolean listenerOnLoop = new AtomicBoolean();
        java.util.concurrent.CountDownLatch listened = new java.util.concurrent.CountDownLatch(1);
        future.addListener(f -> {
            listenerOnLoop.set(LOOP.inEventLoop());
            listened.countDown();
        });
        assertThat(listened.await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(checkedOnLoop)
                .as("the blocking lookup and the check run on the resolver")
                .isFalse();
        assertThat(listenerOnLoop).as("the tunnel continues on its own loop").isTrue();
    }

    /**
     * A policy that cannot decide (a malformed CIDR entry such as {@code 10.0.0.0/x} makes {@link RelayPolicy} throw
     * NumberFormatException) refuses the destination: the tunnel must not wait for a selection that never completes,
     * nor get an exception on its event loop.
     */
    @Test
    void aCheckThatFailsRefusesTheTargetInsteadOfLeavingTheTunnelWaiting() throws Exception {
        RelayPolicy broken = new RelayPolicy(
                List.of("loopback"),
                List.of("0"),
                List.of("10.0.0.0/x"),
                List.of("1-65535"),
                RelayPolicy.DEFAULT_DENIED_TARGETS,
                false);
        FixedTargetSelector selector = selector(broken::chooseResolved, broken::allowsDestination);
        assertThat(refused(selector.select(new Endpoint("localhost", 7000), LOOP))
                        .reason())
                .as("a name, checked on the resolver")
                .isEqualTo("policy");
        assertThat(refused(selector.selectRequested(new Endpoint("10.0.0.1", 7000), LOOP))
                        .reason())
                .as("a requested address, checked on the event loop")
                .isEqualTo("policy");
        FixedTargetSelector addressesOnly = selector(broken::chooseResolved, (host, port) -> true);
        assertThat(refused(addressesOnly.selectRequested(new Endpoint("10.0.0.1", 7000), LOOP))
                        .reason())
                .as("a requested address the destination check let through")
                .isEqualTo("policy");
    }

    @Test
    void withoutACheckANameIsLeftForTheTransportToResolve() throws Exception {
        FixedTargetSelector unchecked = FixedTargetSelector.unchecked();
        selectors.add(unchecked);
        InetSocketAddress selected = done(unchecked.select(new Endpoint("example.internal", 443), LOOP));
        assertThat(selected.isUnresolved()).isTrue();
        assertThat(selected.getHostString()).isEqualTo("example.internal");
        assertThat(selected.getPort()).isEqualTo(443);
        assertThat(done(unchecked.select(new Endpoint("127.0.0.1", 443), LOOP)).getAddress())
                .isEqualTo(ip("127.0.0.1"));
    }

    @Test
    void aClosedSelectorRefusesNamesAsUnresolved() throws Exception {
        FixedTargetSelector selector = selector(addresses -> Optional.of(addresses.get(0)), null);
        selector.close();
        TargetRefusedException refusal = refused(selector.select(new Endpoint("localhost", 7000), LOOP));
        assertThat(refusal.reason()).isEqualTo("unresolved");
        assertThat(done(selector.select(new Endpoint("127.0.0.1", 7000), LOOP)).getPort())
                .as("a literal needs no resolver")
                .isEqualTo(7000);
    }

    // --- destinations named by a client (selectRequested) ---

    @Test
    void aRequestedDestinationIsCheckedByHostAndPortBeforeAnyLookup() throws Exception {
        List<String> asked = new CopyOnWriteArrayList<>();
        RecordingCheck check = new RecordingCheck(addresses -> Optional.of(addresses.get(0)));
        FixedTargetSelector selector = selector(check, (host, port) -> {
            asked.add(host + " " + port);
            return false;
        });
        TargetRefusedException refusal = refused(selector.selectRequested(new Endpoint(UNRESOLVABLE, 22), LOOP));
        assertThat(refusal.reason())
                .as("refused by the destination check, not by the lookup")
                .isEqualTo("policy");
        assertThat(refusal.getMessage()).contains("destination").contains(UNRESOLVABLE);
        assertThat(asked).containsExactly(UNRESOLVABLE + " 22");
        assertThat(check.shown).isEmpty();
    }

    @Test
    void aRequestedAddressIsCheckedAsAnAddressToo() throws Exception {
        RecordingCheck check = new RecordingCheck(addresses -> Optional.empty());
        FixedTargetSelector selector = selector(check, (host, port) -> true);
        TargetRefusedException refusal = refused(selector.selectRequested(new Endpoint("169.254.169.254", 80), LOOP));
        assertThat(refusal.reason()).isEqualTo("policy");
        assertThat(refusal.getMessage()).contains("address");
        assertThat(check.shown).containsExactly(List.of(ip("169.254.169.254")));
    }

    @Test
    void anAllowedRequestedAddressIsUsedAsItIs() throws Exception {
        RecordingCheck check = new RecordingCheck(addresses -> Optional.of(addresses.get(0)));
        FixedTargetSelector selector = selector(check, (host, port) -> true);
        Future<InetSocketAddress> future = selector.selectRequested(new Endpoint("[::1]", 9000), LOOP);
        assertThat(future.isDone()).isTrue();
        assertThat(done(future)).isEqualTo(new InetSocketAddress(ip("::1"), 9000));
    }

    @Test
    void withoutADestinationCheckOnlyTheAddressesAreChecked() throws Exception {
        RecordingCheck check = new RecordingCheck(addresses -> Optional.of(addresses.get(0)));
        FixedTargetSelector selector = selector(check, null);
        assertThat(done(selector.selectRequested(new Endpoint("localhost", 1), LOOP))
                        .getAddress())
                .isEqualTo(ip("127.0.0.1"));
        assertThat(check.shown).hasSize(1);
    }

    /**
     * The selector as the service wires it ({@code OnionConfiguration}): the relay policy's checks. Expected is the
     * address connected to, or the refusal's reason.
     */
    static Stream<Arguments> policyCases() {
        List<String> loopback = List.of("loopback");
        List<String> world = List.of("*");
        return Stream.of(
                Arguments.of(loopback, "127.0.0.1", 8443, "127.0.0.1", "a loopback address with loopback allowed"),
                Arguments.of(loopback, "[::1]", 8443, "::1", "bracketed IPv6 loopback"),
                Arguments.of(loopback, "localhost", 8443, "localhost", "localhost, resolved and checked"),
                Arguments.of(loopback, "127.0.0.1", 22, "policy", "a port outside the pool"),
                Arguments.of(loopback, "10.0.0.1", 8443, "policy", "an address not listed"),
                Arguments.of(loopback, "example.com", 8443, "policy", "a name not listed, refused before any lookup"),
                Arguments.of(world, "93.184.216.34", 8443, "93.184.216.34", "a public address with *"),
                Arguments.of(world, "169.254.169.254", 80, "policy", "the metadata address, even with *"),
                Arguments.of(world, "[fe80::1]", 80, "policy", "IPv6 link-local, even with *"),
                Arguments.of(world, "127.0.0.1", 8443, "policy", "* does not reach this machine"),
                Arguments.of(world, "localhost", 8443, "policy", "nor does a name for it"),
                Arguments.of(world, "127.1", 8443, "policy", "nor a short numeric form Java reads as 127.0.0.1"),
                Arguments.of(world, "2130706433", 8443, "policy", "nor a decimal form of 127.0.0.1"),
                Arguments.of(world, "0", 8443, "policy", "nor 0, which is 0.0.0.0"),
                Arguments.of(world, UNRESOLVABLE, 8443, "unresolved", "a host that does not resolve"),
                Arguments.of(List.of("127.0.0.2"), "127.0.0.2", 8443, "127.0.0.2", "one loopback address listed"),
                Arguments.of(List.of("127.0.0.2"), "127.0.0.3", 8443, "policy", "but not its neighbour"),
                Arguments.of(List.of("169.254.169.254"), "169.254.169.254", 80, "169.254.169.254", "metadata listed"));
    }

    @ParameterizedTest(name = "{4}")
    @MethodSource("policyCases")
    void aRequestedDestinationUnderTheRelayPolicy(
            List<String> targetHosts, String host, int port, String expected, String why) throws Exception {
        RelayPolicy policy = new RelayPolicy(
                List.of("loopback"),
                List.of("0"),
                targetHosts,
                List.of("443", "80", "8443"),
                RelayPolicy.DEFAULT_DENIED_TARGETS,
                false);
        FixedTargetSelector selector = selector(policy::chooseResolved, policy::allowsDestination);
        Future<InetSocketAddress> future = selector.selectRequested(new Endpoint(host, port), LOOP);
        if (expected.equals("policy") || expected.equals("unresolved")) {
            assertThat(refused(future).reason()).as(why).isEqualTo(expected);
        } else {
            InetSocketAddress selected = done(future);
            InetAddress address =
                    expected.equals("localhost") ? InetAddress.getAllByName("localhost")[0] : ip(expected);
            assertThat(selected.getAddress()).as(why).isEqualTo(address);
            assertThat(selected.getPort()).isEqualTo(port);
        }
    }

    static Stream<Arguments> hostStrings() {
        return Stream.of(
                Arguments.of("127.0.0.1", true),
                Arguments.of("[127.0.0.1]", true),
                Arguments.of("::", true),
                Arguments.of("[fe80::1]", true),
                Arguments.of("127.1", false),
                Arguments.of("2130706433", false),
                Arguments.of("0x7f000001", false),
                Arguments.of("localhost", false),
                Arguments.of("[::1", false),
                Arguments.of("::1]", false),
                Arguments.of("", false));
    }

    @ParameterizedTest(name = "''{0}''")
    @MethodSource("hostStrings")
    void onlyCanonicalLiteralsAreTakenAsAddressesWithoutResolution(String host, boolean literal) {
        assertThat(FixedTargetSelector.literal(host) != null)
                .as("'%s' is %s", host, literal ? "an address literal" : "a name (resolved, then checked)")
                .isEqualTo(literal);
    }
}
