package dev.onionrelay.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every branch of the policy, without starting the service: listen hosts and ports, target names and addresses,
 * the deny list and what may override it, wildcards, CIDR blocks and the check of resolved addresses.
 */
class RelayPolicyTest {

    private static RelayPolicy targets(String... hosts) {
        return new RelayPolicy(
                List.of("loopback"),
                List.of("0", "1024-65535"),
                List.of(hosts),
                List.of("1-65535"),
                RelayPolicy.DEFAULT_DENIED_TARGETS,
                false);
    }

    private static RelayPolicy listen(String... hosts) {
        return new RelayPolicy(
                List.of(hosts),
                List.of("0", " 7000 - 7999 "),
                List.of("loopback"),
                List.of("1-65535"),
                RelayPolicy.DEFAULT_DENIED_TARGETS,
                false);
    }

    private static InetAddress ip(String literal) {
        InetAddress address = RelayPolicy.literal(literal);
        assertThat(address).as(literal).isNotNull();
        return address;
    }

    static Stream<Arguments> addresses() {
        return Stream.of(
                // the default: loopback only
                Arguments.of(List.of("loopback"), "127.0.0.1", true, "loopback address with the loopback entry"),
                Arguments.of(List.of("loopback"), "127.8.9.10", true, "all of 127/8 is loopback"),
                Arguments.of(List.of("loopback"), "::1", true, "IPv6 loopback"),
                Arguments.of(List.of("loopback"), "10.0.0.1", false, "a private address is not loopback"),
                Arguments.of(List.of("*"), "127.0.0.1", false, "* does not reach this machine's own services"),
                Arguments.of(List.of("127.0.0.1"), "127.0.0.1", true, "an explicit loopback address"),
                Arguments.of(List.of("127.0.0.0/8"), "127.0.0.2", true, "an explicit loopback block"),
                // * reaches the world, but not the deny list
                Arguments.of(List.of("*"), "93.184.216.34", true, "a public address with *"),
                Arguments.of(List.of("*"), "169.254.169.254", false, "link-local metadata is denied even with *"),
                Arguments.of(List.of("*"), "fe80::1", false, "IPv6 link-local is denied"),
                Arguments.of(List.of("*"), "100.100.100.200", false, "Alibaba's metadata address is denied"),
                Arguments.of(List.of("*"), "fd00:ec2::254", false, "AWS's IPv6 metadata address is denied"),
                Arguments.of(List.of("*"), "0.0.0.0", false, "the unspecified address is denied"),
                Arguments.of(List.of("*"), "::", false, "the IPv6 unspecified address is denied"),
                Arguments.of(List.of("*"), "224.0.0.1", false, "multicast is denied"),
                Arguments.of(List.of("*"), "ff02::1", false, "IPv6 multicast is denied"),
                Arguments.of(List.of("*"), "255.255.255.255", false, "broadcast is denied"),
                // only an address or a CIDR entry overrides the deny list
                Arguments.of(List.of("169.254.169.254"), "169.254.169.254", true, "metadata named by address"),
                Arguments.of(List.of("169.254.0.0/16"), "169.254.1.1", true, "link-local named by CIDR"),
                Arguments.of(List.of(" 169.254.169.254 "), "169.254.169.254", true, "entries are trimmed"),
                Arguments.of(List.of("169.254.169.254"), "169.254.169.253", false, "the neighbour stays denied"),
                // CIDR blocks, including masks that end inside a byte
                Arguments.of(List.of("10.0.0.0/8"), "10.200.3.4", true, "inside a /8"),
                Arguments.of(List.of("172.16.0.0/12"), "172.31.255.255", true, "top of a /12"),
                Arguments.of(List.of("172.16.0.0/12"), "172.32.0.0", false, "just past a /12"),
                Arguments.of(List.of("10.0.0.0/8"), "11.0.0.1", false, "outside a /8"),
                Arguments.of(List.of("2001:db8::/32"), "2001:db8:1::5", true, "inside an IPv6 block"),
                Arguments.of(
                        List.of("10.0.0.0/8"), "::ffff:0:a00:1", false, "an IPv4 block never holds an IPv6 address"),
                Arguments.of(List.of("0.0.0.0/0"), "8.8.8.8", true, "/0 holds every IPv4 address"),
                Arguments.of(List.of("nonsense/8"), "10.0.0.1", false, "a CIDR entry that is not an address"),
                // name entries never match an address
                Arguments.of(List.of("example.com"), "93.184.216.34", false, "a name entry is not an address"),
                Arguments.of(List.of(), "127.0.0.1", false, "an empty list allows nothing"));
    }

    @ParameterizedTest(name = "{3}")
    @MethodSource("addresses")
    void decidesWhichResolvedAddressesATunnelMayConnectTo(
            List<String> hosts, String address, boolean allowed, String why) {
        RelayPolicy policy = targets(hosts.toArray(String[]::new));
        assertThat(policy.allowsAddress(ip(address))).as(why).isEqualTo(allowed);
        assertThat(policy.allowsTargetHost(address))
                .as("an address given at creation is checked the same way: " + why)
                .isEqualTo(allowed);
    }

    static Stream<Arguments> names() {
        return Stream.of(
                Arguments.of(List.of("loopback"), "localhost", true, "localhost is loopback by name"),
                Arguments.of(List.of("loopback"), "LOCALHOST", true, "names are case-insensitive"),
                Arguments.of(List.of("loopback"), "example.com", false, "loopback allows no other name"),
                Arguments.of(List.of("*"), "example.com", true, "* allows any name (its addresses are checked later)"),
                Arguments.of(List.of("*.example.com"), "api.example.com", true, "a wildcard allows a subdomain"),
                Arguments.of(List.of("*.example.com"), "a.b.example.com", true, "and deeper subdomains"),
                Arguments.of(List.of("*.example.com"), "example.com", false, "but not the domain itself"),
                Arguments.of(List.of("*.example.com"), "evilexample.com", false, "nor a name that only ends alike"),
                Arguments.of(List.of("*.example.com"), ".example.com", false, "nor an empty label"),
                Arguments.of(List.of("api.example.com"), "API.Example.com", true, "an exact name, any case"),
                Arguments.of(List.of("api.example.com"), "web.example.com", false, "another exact name"),
                Arguments.of(List.of("10.0.0.0/8"), "internal.example.com", false, "a CIDR entry allows no name"),
                Arguments.of(List.of("127.0.0.1"), "localhost", false, "an address entry allows no name"));
    }

    @ParameterizedTest(name = "{3}")
    @MethodSource("names")
    void checksTargetNamesAtCreation(List<String> hosts, String name, boolean allowed, String why) {
        assertThat(targets(hosts.toArray(String[]::new)).allowsTargetHost(name))
                .as(why)
                .isEqualTo(allowed);
    }

    @Test
    void aTunnelConnectsToTheFirstResolvedAddressThePolicyAllows() {
        RelayPolicy policy = targets("*");
        InetAddress metadata = ip("169.254.169.254");
        InetAddress loopback = ip("127.0.0.1");
        InetAddress publicAddress = ip("93.184.216.34");
        assertThat(policy.chooseResolved(List.of(metadata, loopback, publicAddress)))
                .as("a name that also resolves to denied or loopback addresses connects by the allowed one")
                .contains(publicAddress);
        assertThat(policy.chooseResolved(List.of(metadata, loopback)))
                .as("a name rebound to denied addresses only is refused")
                .isEmpty();
        assertThat(policy.chooseResolved(List.of())).isEmpty();
    }

    static Stream<Arguments> listens() {
        return Stream.of(
                Arguments.of(List.of("loopback"), "127.0.0.1", 0, true, "loopback, any free port"),
                Arguments.of(List.of("loopback"), "localhost", 7001, true, "localhost, a port in the pool"),
                Arguments.of(List.of("loopback"), "127.0.0.1", 8080, false, "a port outside the pool"),
                Arguments.of(List.of("loopback"), "127.0.0.1", 6999, false, "just below a range"),
                Arguments.of(List.of("loopback"), "127.0.0.1", 7999, true, "the top of a range"),
                Arguments.of(List.of("loopback"), "10.0.0.1", 7001, false, "a private address"),
                Arguments.of(List.of("loopback"), "0.0.0.0", 7001, false, "every interface needs *"),
                Arguments.of(List.of("loopback"), "::", 7001, false, "every IPv6 interface needs *"),
                Arguments.of(List.of("*"), "0.0.0.0", 7001, true, "* allows every interface"),
                Arguments.of(List.of("10.0.0.0/8"), "10.1.2.3", 7001, true, "a CIDR entry"),
                Arguments.of(List.of("10.0.0.0/8"), "0.0.0.0", 7001, false, "a CIDR entry is not every interface"),
                Arguments.of(List.of("*.pods.local"), "relay.pods.local", 7001, true, "a wildcard name"),
                Arguments.of(List.of(" relay.local "), " relay.local ", 7001, true, "entry and host are trimmed"));
    }

    @ParameterizedTest(name = "{4}")
    @MethodSource("listens")
    void decidesWhereRelaysMayListen(List<String> hosts, String host, int port, boolean allowed, String why) {
        assertThat(listen(hosts.toArray(String[]::new)).allowsListen(host, port))
                .as(why)
                .isEqualTo(allowed);
    }

    @Test
    void targetPortsComeFromThePool() {
        RelayPolicy policy = new RelayPolicy(
                List.of("loopback"),
                List.of("0"),
                List.of("loopback"),
                List.of("443", "8000-8100"),
                RelayPolicy.DEFAULT_DENIED_TARGETS,
                false);
        assertThat(policy.allowsTargetPort(443)).isTrue();
        assertThat(policy.allowsTargetPort(8000)).isTrue();
        assertThat(policy.allowsTargetPort(8100)).isTrue();
        assertThat(policy.allowsTargetPort(8101)).isFalse();
        assertThat(policy.allowsTargetPort(22)).isFalse();
    }

    @Test
    void aPortEntryThatIsNotAPortIsAConfigurationError() {
        assertThatThrownBy(() -> RelayPolicy.portIn(List.of("http"), 80))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'http'");
        assertThatThrownBy(() -> RelayPolicy.portIn(List.of("80-"), 80)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theDenyListItselfIsConfigurable() {
        RelayPolicy noDenyList =
                new RelayPolicy(List.of("loopback"), List.of("0"), List.of("*"), List.of("1-65535"), List.of(), false);
        assertThat(noDenyList.allowsAddress(ip("169.254.169.254")))
                .as("an operator who empties the deny list reaches link-local with *")
                .isTrue();
        RelayPolicy extraDenied = new RelayPolicy(
                List.of("loopback"), List.of("0"), List.of("*"), List.of("1-65535"), List.of("203.0.113.7"), false);
        assertThat(extraDenied.allowsAddress(ip("203.0.113.7")))
                .as("a single address in the deny list")
                .isFalse();
        assertThat(extraDenied.allowsAddress(ip("203.0.113.8"))).isTrue();
    }

    static Stream<Arguments> literals() {
        return Stream.of(
                Arguments.of("127.0.0.1", new byte[] {127, 0, 0, 1}),
                Arguments.of("[::1]", new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}),
                Arguments.of("::1", new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}),
                Arguments.of("localhost", null),
                Arguments.of("example.com", null),
                Arguments.of("1.2.3", null),
                Arguments.of("cafe", null),
                Arguments.of("999.1.1.1", null),
                Arguments.of("1.2.3.4.5", null),
                Arguments.of("::1::2", null));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("literals")
    void parsesAddressLiteralsWithoutLookingUpNames(String host, byte[] expected) {
        InetAddress address = RelayPolicy.literal(host);
        if (expected == null) {
            assertThat(address).as(host + " is a name, not an address").isNull();
        } else {
            assertThat(address).isNotNull();
            assertThat(Arrays.equals(address.getAddress(), expected)).isTrue();
        }
    }

    @Test
    void equalAddressesMatchWhateverTheirSpelling() {
        assertThat(RelayPolicy.matches("::1", "0:0:0:0:0:0:0:1")).isTrue();
        assertThat(RelayPolicy.matches("[::1]", "::1")).isTrue();
        assertThat(RelayPolicy.matches("127.0.0.1", "127.0.0.2")).isFalse();
    }
}
