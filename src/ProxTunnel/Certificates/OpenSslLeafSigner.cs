using System.Formats.Asn1;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ProxTunnel.Certificates;

/// <summary>
/// Builds and signs a host certificate inside OpenSSL, the library .NET itself uses on Linux, and hands .NET the finished
/// object. Why: <see cref="CertificateRequest"/> encodes the certificate and then parses it back (<c>d2i_X509</c>), and
/// OpenSSL 3.0 decodes the public key of every parsed certificate through its provider decoders, about 100 µs: a third of
/// an issuance. Here the leaf's key object is attached as it is, so nothing is decoded. The bytes are the same as
/// <see cref="CertificateRequest"/> would sign: the subject and every extension are encoded by .NET and only packed here
/// (a test compares the to-be-signed bytes of both paths).
/// </summary>
/// <remarks>
/// Used only when the libcrypto this class binds to is the very one .NET loaded (same version number), so the key and
/// certificate handles passed between them belong to one library. Any failure falls back to <see cref="CertificateRequest"/>.
/// </remarks>
internal sealed class OpenSslLeafSigner : IDisposable
{
    private const string LibCrypto = "libcrypto.so.3";
    private const int Version3 = 2;

    private static readonly bool IsAvailable = Probe();

    private readonly SafeEvpPKeyHandle _rootKey;
    private readonly byte[] _issuer;

    private OpenSslLeafSigner(SafeEvpPKeyHandle rootKey, byte[] issuer)
    {
        _rootKey = rootKey;
        _issuer = issuer;
    }

    /// <summary>A signer over <paramref name="root"/>'s key, or null where OpenSSL 3 is not what .NET uses.</summary>
    internal static OpenSslLeafSigner? TryCreate(RootAuthority root)
    {
        if (!OperatingSystem.IsLinux() || !IsAvailable)
        {
            return null;
        }

        var rootKey = DuplicateHandle(root.Key, copyOtherKeys: true);
        return rootKey is null ? null : new OpenSslLeafSigner(rootKey, root.Certificate.SubjectName.RawData);
    }

    /// <summary>
    /// The certificate, with the key attached by reference; null when <paramref name="key"/> is not an OpenSSL key or
    /// OpenSSL refused a step (the caller then uses <see cref="CertificateRequest"/>).
    /// </summary>
    internal X509Certificate2? TrySign(X500DistinguishedName subject, AsymmetricAlgorithm key, IReadOnlyList<X509Extension> extensions,
        DateTimeOffset notBefore, DateTimeOffset notAfter, byte[] serial)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        using var keyHandle = DuplicateHandle(key, copyOtherKeys: false);
        if (keyHandle is null)
        {
            return null;
        }

        var x509 = Native.X509_new();
        if (x509 == IntPtr.Zero)
        {
            return null;
        }

        var addedRootKey = false;
        try
        {
            _rootKey.DangerousAddRef(ref addedRootKey);
            if (!Build(x509, subject, keyHandle, extensions, notBefore, notAfter, serial)
                || Native.X509_sign(x509, _rootKey.DangerousGetHandle(), Native.EVP_sha256()) <= 0)
            {
                return null;
            }

            // Takes its own reference to the X509; ours is released below.
            using var certificate = new X509Certificate2(x509);
            return CertificateKeys.CopyWithPrivateKey(certificate, key);
        }
        finally
        {
            if (addedRootKey)
            {
                _rootKey.DangerousRelease();
            }

            Native.X509_free(x509);
            Native.ERR_clear_error();
        }
    }

    public void Dispose() => _rootKey.Dispose();

    private bool Build(IntPtr x509, X500DistinguishedName subject, SafeEvpPKeyHandle key, IReadOnlyList<X509Extension> extensions,
        DateTimeOffset notBefore, DateTimeOffset notAfter, byte[] serial)
    {
        if (Native.X509_set_version(x509, Version3) != 1
            || !SetSerial(x509, serial)
            || !SetName(x509, _issuer, issuer: true)
            || !SetName(x509, subject.RawData, issuer: false)
            || Native.ASN1_TIME_set(Native.X509_getm_notBefore(x509), notBefore.ToUnixTimeSeconds()) == IntPtr.Zero
            || Native.ASN1_TIME_set(Native.X509_getm_notAfter(x509), notAfter.ToUnixTimeSeconds()) == IntPtr.Zero)
        {
            return false;
        }

        var addedKey = false;
        try
        {
            key.DangerousAddRef(ref addedKey);
            if (Native.X509_set_pubkey(x509, key.DangerousGetHandle()) != 1)
            {
                return false;
            }
        }
        finally
        {
            if (addedKey)
            {
                key.DangerousRelease();
            }
        }

        foreach (var extension in extensions)
        {
            if (!AddExtension(x509, extension))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The serial as given: a positive INTEGER's content octets (<see cref="CertificateKeys.NewSerialNumber"/>).</summary>
    private static bool SetSerial(IntPtr x509, byte[] serial)
    {
        var pinned = GCHandle.Alloc(serial, GCHandleType.Pinned);
        try
        {
            return Native.ASN1_STRING_set(Native.X509_get_serialNumber(x509), pinned.AddrOfPinnedObject(), serial.Length) == 1;
        }
        finally
        {
            pinned.Free();
        }
    }

    private static bool SetName(IntPtr x509, byte[] der, bool issuer)
    {
        var name = Decode(der, Native.d2i_X509_NAME);
        if (name == IntPtr.Zero)
        {
            return false;
        }

        try
        {
            // Both copy the name, which keeps the DER it was decoded from, so it is written back byte for byte.
            return (issuer ? Native.X509_set_issuer_name(x509, name) : Native.X509_set_subject_name(x509, name)) == 1;
        }
        finally
        {
            Native.X509_NAME_free(name);
        }
    }

    private static bool AddExtension(IntPtr x509, X509Extension extension)
    {
        // Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            writer.WriteObjectIdentifier(extension.Oid!.Value!);
            if (extension.Critical)
            {
                writer.WriteBoolean(true);
            }

            writer.WriteOctetString(extension.RawData);
        }

        var decoded = Decode(writer.Encode(), Native.d2i_X509_EXTENSION);
        if (decoded == IntPtr.Zero)
        {
            return false;
        }

        try
        {
            return Native.X509_add_ext(x509, decoded, -1) == 1;
        }
        finally
        {
            Native.X509_EXTENSION_free(decoded);
        }
    }

    private delegate IntPtr DecodeFunction(IntPtr reuse, ref IntPtr input, long length);

    /// <summary>An OpenSSL <c>d2i_*</c> over all of <paramref name="der"/>; zero on error or trailing bytes.</summary>
    private static IntPtr Decode(byte[] der, DecodeFunction decode)
    {
        var pinned = GCHandle.Alloc(der, GCHandleType.Pinned);
        try
        {
            var start = pinned.AddrOfPinnedObject();
            var cursor = start;
            var decoded = decode(IntPtr.Zero, ref cursor, der.Length);
            return decoded != IntPtr.Zero && cursor == start + der.Length ? decoded : IntPtr.Zero;
        }
        finally
        {
            pinned.Free();
        }
    }

    /// <summary>A reference to <paramref name="key"/>'s OpenSSL key; for another ECDSA or RSA key (the root, loaded by the
    /// platform's default type), with <paramref name="copyOtherKeys"/>, one to an OpenSSL copy of it; else null.</summary>
    [SupportedOSPlatform("linux")]
    private static SafeEvpPKeyHandle? DuplicateHandle(AsymmetricAlgorithm key, bool copyOtherKeys)
    {
        switch (key)
        {
            case ECDsaOpenSsl ecdsa:
                return ecdsa.DuplicateKeyHandle();
            case RSAOpenSsl rsa:
                return rsa.DuplicateKeyHandle();
            case ECDsa or RSA when copyOtherKeys:
                var pkcs8 = key.ExportPkcs8PrivateKey();
                try
                {
                    using AsymmetricAlgorithm copy = key is ECDsa ? new ECDsaOpenSsl() : new RSAOpenSsl();
                    copy.ImportPkcs8PrivateKey(pkcs8, out _);
                    return DuplicateHandle(copy, copyOtherKeys: false);
                }
                finally
                {
                    CryptographicOperations.ZeroMemory(pkcs8);
                }

            default:
                return null;
        }
    }

    /// <summary>True when libcrypto.so.3 loads and is the library .NET's own crypto runs on.</summary>
    private static bool Probe()
    {
        try
        {
            return OperatingSystem.IsLinux() && (long)Native.OpenSSL_version_num() == SafeEvpPKeyHandle.OpenSslVersion;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return false;
        }
    }

    /// <summary>OpenSSL 3 entry points (stable ABI across 3.x); handles are raw because .NET owns the key handles' types.</summary>
    private static class Native
    {
        [DllImport(LibCrypto, ExactSpelling = true)]
        internal static extern ulong OpenSSL_version_num();

        [DllImport(LibCrypto, ExactSpelling = true)]
        internal static extern void ERR_clear_error();

        [DllImport(LibCrypto, ExactSpelling = true)]
        internal static extern IntPtr X509_new();

        [DllImport(LibCrypto, ExactSpelling = true)]
        internal static extern void X509_free(IntPtr x509);

        [DllImport(LibCrypto, ExactSpelling = true)]
        internal static extern int X509_set_version(IntPtr x509, long version);

        [DllImport(LibCrypto, ExactSpelling = true)]
        internal static extern IntPtr X509_get_serialNumber(IntPtr x509);

        [DllImport(LibCrypto, ExactSpelling = true)]
        internal static extern int ASN1_STRING_set(IntPtr value, IntPtr data, int length);

        [DllImport(LibCrypto, ExactSpelling = true)]
        internal static extern IntPtr d2i_X509_NAME(IntPtr reuse, ref IntPtr input, long length);

        [DllImport(LibCrypto, ExactSpelling = true)]
        internal static extern void X509_NAME_free(IntPtr name);

        [DllImport(LibCrypto, ExactSpelling = true)]
        internal static extern int X509_set_issuer_name(IntPtr x509, IntPtr name);

        [DllImport(LibCrypto, ExactSpelling = true)]
        internal static extern int X509_set_subject_name(IntPtr x509, IntPtr name);

        [DllImport(LibCrypto, ExactSpelling = true)]
        internal static extern IntPtr X509_getm_notBefore(IntPtr x509);

        [DllImport(LibCrypto, ExactSpelling = true)]
        internal static extern IntPtr X509_getm_notAfter(IntPtr x509);

        /// <summary>UTCTime before 2050, GeneralizedTime from then on: RFC 5280 §4.1.2.5, as .NET writes it.</summary>
        [DllImport(LibCrypto, ExactSpelling = true)]
        internal static extern IntPtr ASN1_TIME_set(IntPtr time, long unixSeconds);

        [DllImport(LibCrypto, ExactSpelling = true)]
        internal static extern int X509_set_pubkey(IntPtr x509, IntPtr key);

        [DllImport(LibCrypto, ExactSpelling = true)]
        internal static extern IntPtr d2i_X509_EXTENSION(IntPtr reuse, ref IntPtr input, long length);

        [DllImport(LibCrypto, ExactSpelling = true)]
        internal static extern void X509_EXTENSION_free(IntPtr extension);

        [DllImport(LibCrypto, ExactSpelling = true)]
        internal static extern int X509_add_ext(IntPtr x509, IntPtr extension, int location);

        [DllImport(LibCrypto, ExactSpelling = true)]
        internal static extern IntPtr EVP_sha256();

        /// <summary>Signs with PKCS#1 v1.5 for RSA keys and ECDSA for EC keys: sha256WithRSAEncryption / ecdsa-with-SHA256.</summary>
        [DllImport(LibCrypto, ExactSpelling = true)]
        internal static extern int X509_sign(IntPtr x509, IntPtr key, IntPtr digest);
    }
}
