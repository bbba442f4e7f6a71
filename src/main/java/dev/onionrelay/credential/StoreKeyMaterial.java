package dev.onionrelay.credential;

import dev.onionrelay.layer.KeyMaterial;
import dev.onionrelay.layer.LayerConfigurationException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;

/** Serves layers their keys and trust from the {@link CredentialRepository}, by credential name. */
public final class StoreKeyMaterial implements KeyMaterial {

    private final CredentialRepository store;

    public StoreKeyMaterial(CredentialRepository store) {
        this.store = store;
    }

    @Override
    public Identity identity(String credentialName) throws LayerConfigurationException {
        Credential credential = store.find(credentialName)
                .orElseThrow(() ->
                        new LayerConfigurationException("credential", "unknown credential '" + credentialName + "'"));
        if (credential.privateKey() == null) {
            throw new LayerConfigurationException(
                    "credential",
                    "credential '" + credentialName
                            + "' is a trust credential (no private key); a layer presents an identity");
        }
        return new Identity(credential.privateKey(), credential.chain());
    }

    @Override
    public void hold(String holder, String holderName, Collection<String> credentialNames) {
        store.hold(holder, holderName, credentialNames);
    }

    @Override
    public void hold(
            String holder, String holderName, Collection<String> credentialNames, Collection<String> presented) {
        store.hold(holder, holderName, credentialNames, presented);
    }

    @Override
    public void release(String holder) {
        store.release(holder);
    }

    @Override
    public List<X509Certificate> trustAnchors(String credentialName) throws LayerConfigurationException {
        return store.find(credentialName)
                .orElseThrow(
                        () -> new LayerConfigurationException("trust", "unknown credential '" + credentialName + "'"))
                .trustAnchors();
    }
}
