package dev.onionrelay.layer;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Optional;
import javax.net.ssl.SNIHostName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Which names a client layer sends as SNI: every host name, dotted or not; never an IP literal. */
class ServerNameIndicationTest {

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(
            nullValues = "none",
            value = {
                "localhost, localhost",
                "hop1, hop1",
                "hop1.onion.svc.cluster.local, hop1.onion.svc.cluster.local",
                "a.test, a.test",
                "example.com., example.com",
                "127.0.0.1, none",
                "10.1.2.3, none",
                "::1, none",
                "[::1], none",
                "2001:db8::7, none",
                "bad_name, none",
                "'', none"
            })
    void hostNamesAreSentWhateverTheirDotsAndAddressesNever(String host, String expected) {
        Optional<String> sent = TlsContexts.serverNameIndication(host).map(SNIHostName::getAsciiName);

        assertThat(sent).isEqualTo(Optional.ofNullable(expected));
    }
}
