package dev.onionrelay.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.marcnuri.helm.LintResult;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** values.schema.json turns away values that would deploy something broken or unsafe, before anything renders. */
class ValuesSchemaTest {

    @TempDir
    Path work;

    static Stream<Arguments> badValues() {
        return Stream.of(
                Arguments.of("a misspelt top-level key", "replicas: 2\n", "replicas"),
                Arguments.of("a workload kind the chart does not make", "kind: DaemonSet\n", "kind"),
                Arguments.of(
                        "a writable root filesystem",
                        "securityContext:\n  readOnlyRootFilesystem: false\n",
                        "readOnlyRootFilesystem"),
                Arguments.of("running as root", "podSecurityContext:\n  runAsUser: 0\n", "runAsUser"),
                Arguments.of("a port out of range", "ports:\n  api: 70000\n", "api"),
                Arguments.of(
                        "a declared relay without a listen port",
                        "relays:\n  - name: exit\n    listen: {host: 0.0.0.0}\n"
                                + "    target: {host: 127.0.0.1, port: 9000}\n",
                        "port"),
                Arguments.of(
                        "a layer with an unknown verify mode",
                        "relays:\n  - name: exit\n    listen: {port: 7443}\n    target: {host: 127.0.0.1, port: 9000}\n"
                                + "    ingress: [{credential: edge, verify: sometimes}]\n",
                        "verify"),
                Arguments.of(
                        "a credential name the service refuses",
                        "credentials:\n  'bad name':\n    existingSecret: edge-tls\n",
                        "bad name"),
                Arguments.of(
                        "a credential with both an existing Secret and PEM",
                        "credentials:\n  edge:\n    existingSecret: edge-tls\n"
                                + "    certificate: \"-----BEGIN CERTIFICATE-----\\n\"\n",
                        "edge"),
                Arguments.of(
                        "a misspelt key inside a layer's allow",
                        "relays:\n  - name: exit\n    listen: {port: 7443}\n    target: {host: 127.0.0.1, port: 9000}\n"
                                + "    ingress: [{credential: edge, clientAuth: require, allow: {url: [x]}}]\n",
                        "url"),
                Arguments.of("an unknown TLS provider", "tls:\n  provider: gnutls\n", "provider"),
                Arguments.of("a duration Spring cannot read", "limits:\n  idleTimeout: five minutes\n", "idleTimeout"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badValues")
    void templateRejects(String what, String values, String named) {
        Path file = work.resolve("bad-values.yaml");
        Chart.write(file, values);
        assertThatThrownBy(() -> Chart.render(file))
                .hasMessageContaining("values don't meet the specifications of the schema")
                .hasMessageContaining(named);
    }

    @Test
    void lintRejectsAChartWhoseValuesBreakTheSchema() {
        Path file = work.resolve("bad-values.yaml");
        Chart.write(file, "securityContext:\n  readOnlyRootFilesystem: false\n");
        LintResult lint = Chart.lintWith(file, work);
        assertThat(lint.isFailed()).isTrue();
        assertThat(lint.getMessages()).anyMatch(m -> m.contains("readOnlyRootFilesystem"));
    }

    @Test
    void acceptsTheValuesItShipsWith() {
        // The positive side of the cases above: the defaults and the all-features example render.
        assertThat(Chart.render().kinds()).contains("Deployment");
        assertThat(Chart.render(Chart.ALL_FEATURES).kinds()).contains("StatefulSet");
    }
}
