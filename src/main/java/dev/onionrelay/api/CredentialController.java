package dev.onionrelay.api;

import dev.onionrelay.credential.Credential;
import dev.onionrelay.credential.CredentialException;
import dev.onionrelay.credential.CredentialRepository;
import dev.onionrelay.credential.NewCredential;
import dev.onionrelay.credential.PemCodec;
import dev.onionrelay.credential.file.FileCredentials;
import dev.onionrelay.registry.CredentialRotation;
import dev.onionrelay.registry.FieldProblem;
import dev.onionrelay.registry.InvalidRequestException;
import dev.onionrelay.registry.RelayRegistry;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;
import java.net.URI;
import java.time.Period;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.PutMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

/** {@code /credentials}: named key material for layers. Private keys go in, never out. */
@RestController
@RequestMapping(path = "/credentials", produces = MediaType.APPLICATION_JSON_VALUE)
@Tag(name = "credentials", description = "Identities (certificate + key) and trust (CA certificates) for layers")
public class CredentialController {

    /** Media type of {@code GET /credentials/{name}/certificate}. */
    public static final String PEM = "application/x-pem-file";

    private final CredentialRepository store;
    private final RelayRegistry relays;
    private final FileCredentials files;
    private final CredentialRotation rotation;

    public CredentialController(CredentialRepository store, RelayRegistry relays, FileCredentials files) {
        this.store = store;
        this.relays = relays;
        this.files = files;
        this.rotation = new CredentialRotation(store, relays);
    }

    @PostMapping(consumes = MediaType.APPLICATION_JSON_VALUE)
    @Operation(summary = "Create a credential from PEM or from the development CA")
    @ApiResponse(responseCode = "201", description = "the credential (never its private key)")
    public ResponseEntity<CredentialView> create(@RequestBody CredentialRequest request) {
        Credential credential = store.create(toNewCredential(request));
        return ResponseEntity.created(URI.create("/credentials/" + credential.name()))
                .body(view(credential));
    }

    @GetMapping
    @Operation(summary = "List credentials")
    public List<CredentialView> list() {
        return store.list().stream().map(this::view).toList();
    }

    @GetMapping("/{name}")
    @Operation(summary = "Describe one credential (never its private key)")
    public CredentialView get(@PathVariable String name) {
        return view(find(name));
    }

    @GetMapping(path = "/{name}/certificate", produces = PEM)
    @Operation(summary = "The certificate chain as PEM, for clients to trust")
    public ResponseEntity<String> certificate(@PathVariable String name) {
        return ResponseEntity.ok()
                .contentType(MediaType.parseMediaType(PEM))
                .body(PemCodec.certificatesToPem(find(name).chain()));
    }

    @PutMapping(path = "/{name}", consumes = MediaType.APPLICATION_JSON_VALUE)
    @Operation(
            summary = "Rotate a credential in place: the next handshake of every relay that uses it, on every instance,"
                    + " presents or trusts the new material; open tunnels keep theirs")
    @ApiResponse(responseCode = "200", description = "the credential as rotated: its next version (never its key)")
    public CredentialView rotate(@PathVariable String name, @RequestBody CredentialRequest request) {
        if (request.name() != null && !request.name().equals(name)) {
            throw InvalidRequestException.of(
                    "name", "the credential is named by the path ('" + name + "'); leave 'name' out or send the same");
        }
        CredentialRequest named =
                new CredentialRequest(name, request.certificate(), request.privateKey(), request.generate());
        return view(rotation.rotate(toNewCredential(named)));
    }

    @DeleteMapping("/{name}")
    @ResponseStatus(HttpStatus.NO_CONTENT)
    @Operation(summary = "Delete a credential that no relay uses")
    public void delete(@PathVariable String name) {
        // The store refuses a credential that a relay holds, atomically with relays being created.
        store.delete(name);
    }

    private Credential find(String name) {
        return store.find(name).orElseThrow(() -> CredentialException.notFound(name));
    }

    private CredentialView view(Credential credential) {
        return CredentialView.of(
                credential.info(),
                List.copyOf(relays.relaysUsing(credential.name())),
                files.status(credential.name())
                        .map(CredentialView.FileSource::of)
                        .orElse(null));
    }

    static NewCredential toNewCredential(CredentialRequest request) {
        List<FieldProblem> errors = new ArrayList<>();
        String name = request.name();
        if (name == null || name.isBlank()) {
            errors.add(new FieldProblem("name", "is required"));
        }
        boolean fromPem = request.certificate() != null;
        CredentialRequest.Generate generate = request.generate();
        if (fromPem == (generate != null)) {
            errors.add(new FieldProblem(
                    fromPem ? "generate" : "certificate",
                    "give exactly one of 'certificate' (PEM, with optional 'privateKey') or 'generate'"));
        }
        if (generate == null && request.privateKey() != null && !fromPem) {
            errors.add(new FieldProblem("privateKey", "a private key needs its 'certificate'"));
        }
        if (generate != null && request.privateKey() != null) {
            errors.add(new FieldProblem("privateKey", "a generated credential gets a new key; do not send one"));
        }
        Period validity = null;
        if (generate != null && generate.validity() != null) {
            try {
                validity = Period.parse(generate.validity());
            } catch (DateTimeParseException e) {
                errors.add(new FieldProblem("generate.validity", "not an ISO-8601 period such as P30D"));
            }
        }
        boolean wantsCa = generate != null && Boolean.TRUE.equals(generate.ca());
        if (generate != null && wantsCa == (generate.issuer() != null)) {
            errors.add(new FieldProblem(
                    "generate.issuer",
                    "give either 'ca': true (a new CA) or an 'issuer' (a leaf signed by that CA credential)"));
        }
        if (!errors.isEmpty()) {
            throw new InvalidRequestException(errors);
        }
        if (fromPem) {
            return new NewCredential.FromPem(name, request.certificate(), request.privateKey());
        }
        String commonName = orDefault(generate.commonName(), name);
        if (wantsCa) {
            return new NewCredential.GenerateCa(name, commonName, validity);
        }
        return new NewCredential.GenerateIssued(
                name,
                generate.issuer(),
                commonName,
                generate.dnsNames() != null ? generate.dnsNames() : List.of(),
                generate.ipAddresses() != null ? generate.ipAddresses() : List.of(),
                generate.uris() != null ? generate.uris() : List.of(),
                validity);
    }

    private static String orDefault(@Nullable String value, String fallback) {
        return value == null || value.isBlank() ? fallback : value;
    }
}
