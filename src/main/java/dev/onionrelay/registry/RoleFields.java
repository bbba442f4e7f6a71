package dev.onionrelay.registry;

import dev.onionrelay.layer.ClientAuthMode;
import dev.onionrelay.layer.Role;
import dev.onionrelay.layer.Verification;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Refuses the layer fields that mean nothing for the layer's role, which were otherwise accepted, stored, shown and
 * ignored: a reader of the relay would believe them.
 *
 * <ul>
 *   <li>A server layer has no {@code serverName} (it is the client that names and checks the server), and no {@code
 *       verify: full} (a server cannot check its clients' host names; {@code chain} is what it does). With {@code
 *       clientAuth} {@code none} (the default) it asks for no client certificate, so no {@code verify} at all.
 *   <li>A client layer has no {@code clientAuth}, not even {@code none}: only a server asks for client certificates.
 *   <li>A server that asks for client certificates ({@code clientAuth} {@code require} or {@code optional}) and checks
 *       them needs its {@code trust} said: the default, {@code "system"}, accepts any client holding a certificate from
 *       a public CA, which is rarely meant. {@code "trust": "system"} written out still works.
 * </ul>
 */
final class RoleFields {

    private RoleFields() {}

    static void check(
            List<FieldProblem> errors,
            String prefix,
            Role role,
            LayerRequest request,
            @Nullable Verification verify,
            @Nullable ClientAuthMode clientAuth) {
        if (role == Role.CLIENT) {
            if (request.clientAuth() != null) {
                errors.add(new FieldProblem(
                        prefix + "clientAuth", "only server layers ask for client certificates; leave it out here"));
            }
            return;
        }
        if (request.serverName() != null) {
            errors.add(new FieldProblem(
                    prefix + "serverName",
                    "a server layer does not name its peer: serverName is for client layers (the server's name is in"
                            + " its credential)"));
        }
        boolean asksForCertificates = clientAuth == ClientAuthMode.REQUIRE || clientAuth == ClientAuthMode.OPTIONAL;
        if (verify == Verification.FULL) {
            errors.add(new FieldProblem(
                    prefix + "verify",
                    "a server cannot check its clients' host names: 'chain' (the default with clientAuth) is what it"
                            + " does"));
        } else if (request.verify() != null && !asksForCertificates) {
            errors.add(
                    new FieldProblem(
                            prefix + "verify",
                            "this server layer asks for no client certificate (clientAuth 'none'): there is nothing to verify"));
        }
        if (asksForCertificates && verify != Verification.NONE && request.trust() == null) {
            errors.add(new FieldProblem(
                    prefix + "trust",
                    "is required with clientAuth '" + request.clientAuth() + "': name the trust credential that"
                            + " issues your clients' certificates, or write \"system\" to accept any certificate from"
                            + " a public CA"));
        }
    }
}
