package dev.onionrelay.registry;

import dev.onionrelay.credential.Credential;
import dev.onionrelay.credential.CredentialRepository;
import dev.onionrelay.credential.NewCredential;

/**
 * Rotation of a credential in place ({@code PUT /credentials/{name}}): the repository replaces the material (and keeps
 * the rules, see {@link CredentialRepository#rotate}), then this instance's relays that use it rebuild their TLS
 * contexts at once, so that the next handshake presents or trusts the new material. Open tunnels keep theirs: their
 * TLS engines were made from the contexts they started with. Other instances of a fleet learn of the change from the
 * store's change feed and rebuild theirs the same way ({@link RelayRegistry#refresh}), as they do for a credential's
 * files rotated on disk.
 */
public final class CredentialRotation {

    private final CredentialRepository credentials;
    private final RelayRegistry relays;

    public CredentialRotation(CredentialRepository credentials, RelayRegistry relays) {
        this.credentials = credentials;
        this.relays = relays;
    }

    /**
     * @return the credential as rotated: next version, the new material
     * @throws dev.onionrelay.credential.CredentialException as {@link CredentialRepository#rotate} does
     */
    public Credential rotate(NewCredential request) {
        Credential rotated = credentials.rotate(request);
        relays.refresh(rotated.name());
        return rotated;
    }
}
