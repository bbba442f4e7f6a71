package dev.onionrelay.store;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The key-encryption key that seals private keys (and other secrets) before they leave the process for the shared
 * store or a snapshot: AES-256-GCM, a fresh 96-bit nonce per seal, and the secret's purpose ("credential:ca") as
 * associated data, so a sealed value moved to another row does not open.
 *
 * <p>Sealed format: {@code 0x01 | nonce (12) | ciphertext | tag (16)}. The {@link #id()} (a digest of the key, not
 * the key) is stored beside what it sealed, so a start with another key is told apart from damaged data.
 */
public final class KeyEncryptionKey {

    private static final byte VERSION = 1;
    private static final int KEY_BYTES = 32;
    private static final int NONCE_BYTES = 12;
    private static final int TAG_BITS = 128;
    private static final String SETTING = "onion.store.encryption-key-file";

    private final SecretKeySpec key;
    private final String id;
    private final SecureRandom random = new SecureRandom();

    public KeyEncryptionKey(byte[] key) {
        if (key.length != KEY_BYTES) {
            throw new IllegalArgumentException("a key-encryption key is " + KEY_BYTES + " bytes, not " + key.length);
        }
        this.key = new SecretKeySpec(key, "AES");
        this.id = idOf(key);
    }

    /**
     * Reads the key from a file holding 32 random bytes, raw or base64 (e.g. {@code openssl rand -base64 32}).
     *
     * @throws StoreConfigurationException when the file is missing, unreadable or holds something else
     */
    public static KeyEncryptionKey load(Path file) {
        return load(file, SETTING);
    }

    /** Like {@link #load(Path)}, naming {@code setting} (where the path came from) in its refusals. */
    public static KeyEncryptionKey load(Path file, String setting) {
        byte[] content;
        try {
            content = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new StoreConfigurationException(
                    setting + " " + file + " cannot be read (" + e.getClass().getSimpleName() + ")",
                    "Mount the key-encryption key (32 random bytes, raw or base64) at that path.");
        }
        try {
            if (content.length == KEY_BYTES) {
                return new KeyEncryptionKey(content);
            }
            String text = new String(content, StandardCharsets.US_ASCII).trim();
            byte[] decoded;
            try {
                decoded = Base64.getDecoder().decode(text);
            } catch (IllegalArgumentException e) {
                decoded = new byte[0];
            }
            try {
                if (decoded.length == KEY_BYTES) {
                    return new KeyEncryptionKey(decoded);
                }
            } finally {
                Arrays.fill(decoded, (byte) 0);
            }
            throw new StoreConfigurationException(
                    setting + " " + file + " does not hold 32 bytes, raw or base64 (" + content.length
                            + " bytes found)",
                    "Create it with: openssl rand -base64 32 > " + file);
        } finally {
            Arrays.fill(content, (byte) 0);
        }
    }

    /** Names the key without revealing it: the first 8 bytes of a SHA-256 over a label and the key, in hex. */
    public String id() {
        return id;
    }

    /** Encrypts {@code plain} for {@code purpose}; only {@link #open} with the same key and purpose gives it back. */
    public byte[] seal(byte[] plain, String purpose) {
        byte[] nonce = new byte[NONCE_BYTES];
        random.nextBytes(nonce);
        try {
            Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
            cipher.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, nonce));
            cipher.updateAAD(purpose.getBytes(StandardCharsets.UTF_8));
            byte[] sealed = cipher.doFinal(plain);
            byte[] out = new byte[1 + NONCE_BYTES + sealed.length];
            out[0] = VERSION;
            System.arraycopy(nonce, 0, out, 1, NONCE_BYTES);
            System.arraycopy(sealed, 0, out, 1 + NONCE_BYTES, sealed.length);
            return out;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-256-GCM is not available", e);
        }
    }

    /**
     * Decrypts what {@link #seal} made for {@code purpose}.
     *
     * @throws GeneralSecurityException when the key, the purpose or the bytes are not those it was sealed with
     */
    public byte[] open(byte[] sealed, String purpose) throws GeneralSecurityException {
        if (sealed.length < 1 + NONCE_BYTES + TAG_BITS / 8 || sealed[0] != VERSION) {
            throw new GeneralSecurityException("not a sealed value of version " + VERSION);
        }
        Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
        cipher.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, sealed, 1, NONCE_BYTES));
        cipher.updateAAD(purpose.getBytes(StandardCharsets.UTF_8));
        return cipher.doFinal(sealed, 1 + NONCE_BYTES, sealed.length - 1 - NONCE_BYTES);
    }

    private static String idOf(byte[] key) {
        try {
            MessageDigest sha256 = MessageDigest.getInstance("SHA-256");
            sha256.update("onion-relay key-encryption key id\0".getBytes(StandardCharsets.US_ASCII));
            return HexFormat.of().formatHex(Arrays.copyOf(sha256.digest(key), 8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public String toString() {
        return "KeyEncryptionKey[id=" + id + "]";
    }
}
