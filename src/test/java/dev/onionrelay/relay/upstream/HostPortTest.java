package dev.onionrelay.relay.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.onionrelay.relay.Endpoint;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The {@code host:port} of a proxy hop ({@code egress[].connect}): names, IPv4, bracketed IPv6, ports at their bounds,
 * and every malformed form refused with a message that tells the user what is expected; what parses prints back as it
 * was given ({@link Endpoint#toString()} is what goes into the CONNECT request line).
 */
class HostPortTest {

    @ParameterizedTest(name = "''{0}'' is {1} port {2}")
    @CsvSource(
            delimiter = '|',
            value = {
                "localhost:443|localhost|443",
                "proxy.example.com:3128|proxy.example.com|3128",
                "a:1|a|1",
                "UPPER.Example.COM:8080|UPPER.Example.COM|8080",
                "under_score.internal:80|under_score.internal|80",
                "127.0.0.1:65535|127.0.0.1|65535",
                "10.0.0.1:1|10.0.0.1|1",
                "[::1]:443|::1|443",
                "[2001:db8::17]:8443|2001:db8::17|8443",
                "[fe80::1%eth0]:80|fe80::1%eth0|80",
                "[::ffff:127.0.0.1]:443|::ffff:127.0.0.1|443",
                "'  localhost:443  '|localhost|443",
                "'\tlocalhost:443\n'|localhost|443",
                "localhost:080|localhost|80",
                "localhost:00443|localhost|443"
            })
    void parsesAHostAndAPort(String value, String host, int port) {
        assertThat(HostPort.parse(value)).isEqualTo(new Endpoint(host, port));
    }

    @ParameterizedTest(name = "''{0}''")
    @ValueSource(
            strings = {
                "localhost:443",
                "proxy.example.com:3128",
                "127.0.0.1:1",
                "[::1]:65535",
                "[2001:db8::17]:8443",
                "[::ffff:127.0.0.1]:443"
            })
    void printsBackWhatItParsed(String value) {
        Endpoint endpoint = HostPort.parse(value);
        assertThat(endpoint.toString()).isEqualTo(value);
        assertThat(HostPort.parse(endpoint.toString())).isEqualTo(endpoint);
    }

    @ParameterizedTest(name = "''{0}''")
    @ValueSource(
            strings = {
                "",
                "   ",
                "localhost",
                "localhost:",
                ":443",
                ":",
                "::1:443",
                "2001:db8::17:443",
                "::1",
                "[::1]",
                "[::1:443",
                "::1]:443",
                "[::1]443",
                "host:80:81"
            })
    void refusesWhatIsNotHostColonPort(String value) {
        assertThatThrownBy(() -> HostPort.parse(value))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'" + value + "'")
                .hasMessageContaining("is not host:port (an IPv6 address goes in brackets)");
    }

    @ParameterizedTest(name = "''{0}''")
    @ValueSource(
            strings = {
                "localhost:0",
                "localhost:65536",
                "localhost:99999",
                "localhost:100000",
                "localhost:000080",
                "localhost:-1",
                "localhost:+80",
                "localhost:http",
                "localhost:8o",
                "localhost: 80",
                "localhost:\u0664\u0664\u0663",
                "localhost:1e3",
                "[]:443"
            })
    void refusesAPortOutsideOneTo65535OrAnEmptyHost(String value) {
        assertThatThrownBy(() -> HostPort.parse(value))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'" + value + "'")
                .hasMessageContaining("port between 1 and 65535");
    }
}
