package dev.onionrelay.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.onionrelay.registry.FieldProblem;
import dev.onionrelay.registry.LayerRequest;
import dev.onionrelay.registry.RelayRequest;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.json.JsonMapper;

/** Request bodies are read strictly: what is not exactly what the sender meant is refused, never guessed. */
class StrictJsonTest {

    static final JsonMapper STRICT = StrictJson.apply(JsonMapper.builder()).build();

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            relay with 'Ingress'               | {"name":"r","Ingress":[]}                                   | Ingress
            relay with 'egres'                 | {"name":"r","egres":[]}                                     | egres
            layer with 'trsut'                 | {"name":"r","egress":[{"trsut":"ca"}]}                      | egress[0].trsut
            layer with 'clientAuht'            | {"name":"r","ingress":[{},{"clientAuht":"require"}]}        | ingress[1].clientAuht
            numeric name                       | {"name":1}                                                  | name
            boolean name                       | {"name":true}                                               | name
            fractional target port             | {"name":"r","target":{"host":"h","port":2.5}}               | target.port
            empty-string listen port           | {"name":"r","listen":{"port":""}}                           | listen.port
            string listen port                 | {"name":"r","listen":{"port":"80"}}                         | listen.port
            duplicate key                      | {"name":"a","name":"b"}                                     | name
            duplicate nested key               | {"name":"a","target":{"port":1,"port":2}}                   | target.port
            single value for a list            | {"name":"r","egress":{"name":"x"}}                          | egress
            number in a list of strings        | {"name":"r","egress":[{"protocols":["TLSv1.3",1]}]}         | egress[0].protocols[1]
            empty string for an object         | {"name":"r","target":""}                                    | target
            number for a duration              | {"name":"r","options":{"idleTimeout":5}}                    | options.idleTimeout
            lone high surrogate                | {"name":"r\\ud800"}                                          | name
            lone low surrogate in a layer      | {"name":"r","egress":[{"serverName":"a\\udc00b"}]}           | egress[0].serverName
            surrogates in the wrong order      | {"name":"r","egress":[{"alpn":["\\udc00\\ud800"]}]}          | egress[0].alpn[0]
            allow with 'url'                   | {"name":"r","egress":[{"allow":{"url":[]}}]}                | egress[0].allow.url
            number in an allow list            | {"name":"r","ingress":[{"allow":{"uris":["a",2]}}]}         | ingress[0].allow.uris[1]
            list for an allow expression       | {"name":"r","egress":[{"allow":{"expression":["x"]}}]}      | egress[0].allow.expression
            """)
    void relayBodiesAreRefusedNamingTheField(String why, String body, String field) {
        assertThatThrownBy(() -> STRICT.readValue(body, RelayRequest.class))
                .as(why)
                .isInstanceOfSatisfying(JacksonException.class, e -> assertThat(
                                JsonProblems.describe(e).field())
                        .as(why)
                        .isNotNull()
                        .extracting(FieldProblem::field)
                        .isEqualTo(field));
    }

    @org.junit.jupiter.api.Test
    void contentAfterTheJsonValueIsRefused() {
        assertThatThrownBy(() -> STRICT.readValue("{\"name\":\"r\"} {\"name\":\"s\"}", RelayRequest.class))
                .isInstanceOfSatisfying(
                        JacksonException.class,
                        e -> assertThat(JsonProblems.describe(e).detail()).contains("after its JSON value"));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            number for a boolean               | {"name":"c","generate":{"ca":5}}
            string for a boolean               | {"name":"c","generate":{"ca":"true"}}
            unknown generate field             | {"name":"c","generate":{"ca":true,"validty":"P1D"}}
            lone surrogate in a common name    | {"name":"c","generate":{"ca":true,"commonName":"\\ud800"}}
            """)
    void credentialBodiesAreRefused(String why, String body) {
        assertThatThrownBy(() -> STRICT.readValue(body, CredentialRequest.class))
                .as(why)
                .isInstanceOfSatisfying(JacksonException.class, e -> assertThat(
                                JsonProblems.describe(e).field())
                        .as(why)
                        .isNotNull());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            lone surrogate                     | {"name":"\\ud800"}                      | not valid Unicode
            """)
    void theProblemSaysWhatIsWrongWithTheValue(String why, String body, String detail) {
        assertThatThrownBy(() -> STRICT.readValue(body, RelayRequest.class))
                .isInstanceOfSatisfying(JacksonException.class, e -> assertThat(
                                JsonProblems.describe(e).detail())
                        .as(why)
                        .contains(detail));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            null listen                        | {"name":"r","listen":null}                                  | listen
            null name                          | {"name":null}                                               | name
            null listen port                   | {"name":"r","listen":{"port":null}}                         | listen.port
            null layer field                   | {"name":"r","egress":[{"clientAuth":null}]}                 | egress[0].clientAuth
            null layer                         | {"name":"r","ingress":[null]}                               | ingress[0]
            null list entry                    | {"name":"r","egress":[{"alpn":["h2",null]}]}                | egress[0].alpn[1]
            null option                        | {"name":"r","options":{"maxTunnels":null}}                  | options.maxTunnels
            null common name                   | {"name":"c","generate":{"ca":true,"commonName":null}}       | generate.commonName
            two nulls                          | {"name":null,"target":{"host":null}}                        | name,target.host
            null body                          | null                                                        | (body)
            """)
    void nullIsRefusedWhereverItIsNamingItsPath(String why, String body, String fields) {
        List<FieldProblem> nulls = new ArrayList<>();
        NoNullsInRequestBodies.collectNulls(STRICT.readTree(body), "", nulls);
        assertThat(nulls).as(why).extracting(FieldProblem::field).containsExactly(fields.split(","));
    }

    @org.junit.jupiter.api.Test
    void aBodyWithoutNullHasNothingToRefuse() {
        List<FieldProblem> nulls = new ArrayList<>();
        NoNullsInRequestBodies.collectNulls(
                STRICT.readTree("{\"name\":\"r\",\"egress\":[{\"alpn\":[\"h2\"]}],\"options\":{}}"), "", nulls);
        assertThat(nulls).isEmpty();
    }

    @org.junit.jupiter.api.Test
    void pairedSurrogatesAreText() {
        RelayRequest relay = STRICT.readValue("{\"name\":\"r\\ud83d\\ude00\"}", RelayRequest.class);
        assertThat(relay.name()).isEqualTo("r\uD83D\uDE00");
    }

    @org.junit.jupiter.api.Test
    void exactBodiesAreReadAsWritten() {
        RelayRequest relay = STRICT.readValue("""
                {"name":"r","listen":{"host":"127.0.0.1","port":0},"target":{"host":"127.0.0.1","port":7},
                 "egress":[{"name":"h1","trust":"ca","serverName":"localhost","protocols":["TLSv1.3"]}],
                 "options":{"maxTunnels":3,"minDepth":{"egress":1}}}""", RelayRequest.class);
        assertThat(relay.target().port()).isEqualTo(7);
        assertThat(relay.egress()).extracting(LayerRequest::trust).containsExactly("ca");
        assertThat(STRICT.readValue("{\"name\":\"c\",\"generate\":{\"ca\":true}}", CredentialRequest.class)
                        .generate()
                        .ca())
                .isTrue();
    }
}
