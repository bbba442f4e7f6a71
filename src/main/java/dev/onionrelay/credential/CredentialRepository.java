package dev.onionrelay.credential;

import java.util.Collection;
import java.util.List;
import java.util.Optional;

/**
 * Credentials by name, with the rule that binds them to relays: a credential a relay holds cannot be deleted. The
 * in-use check and the delete are one step here, so a relay being created and a delete cannot both win.
 * {@link CredentialStore} keeps them in a directory; a shared store for many instances implements this.
 */
public interface CredentialRepository {

    /**
     * Validates the request, imports or generates the credential and keeps it.
     *
     * @throws CredentialException INVALID for a bad name or content, CONFLICT for a taken name
     */
    Credential create(NewCredential request);

    /**
     * Registers a credential loaded elsewhere (configured certificate files), replacing an earlier one of that name
     * that was registered the same way.
     *
     * @throws CredentialException INVALID for a bad name, CONFLICT if a created credential has the name
     */
    void put(Credential credential);

    Optional<Credential> find(String name);

    /** All credentials, sorted by name. */
    List<Credential> list();

    /**
     * Marks credentials as used by {@code holder} (a relay's id; {@code holderName} is what a refused delete names),
     * before the holder looks them up, until {@link #release}.
     */
    void hold(String holder, String holderName, Collection<String> names);

    /** Like {@link #hold(String, String, Collection)}; {@code presented} are the names layers present as identity. */
    void hold(String holder, String holderName, Collection<String> names, Collection<String> presented);

    /** Lets go of everything {@code holder} holds. */
    void release(String holder);

    /** Names of the holders of a credential (relays using it), in the order they took it. */
    List<String> holdersOf(String name);

    /**
     * Replaces a created credential's material in place (its name and creation time stay; {@link Credential#version()}
     * goes up by one): the request is validated exactly like a create's, and its name is the credential's. Relays that
     * use the credential find the new material by name from then on; whoever rebuilds their TLS contexts is told by
     * the caller (this instance) or by the store's change feed (other instances).
     *
     * @throws CredentialException NOT_FOUND for no such credential, INVALID for bad content, CONFLICT for a
     *     credential that comes from configured files (it rotates with its files) or an identity that layers present
     *     and the request would make a trust credential
     */
    Credential rotate(NewCredential request);

    /**
     * Removes the credential, unless something holds it.
     *
     * @throws CredentialException NOT_FOUND if there is no such credential, CONFLICT while it is held
     */
    void delete(String name);
}
