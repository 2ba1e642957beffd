namespace ProxTunnel.Certificates;

/// <summary>Key type for the root or for issued host certificates.</summary>
public enum CertificateKeyAlgorithm
{
    /// <summary>ECDSA on NIST P-256: fast to generate and accepted by every current client.</summary>
    EcdsaP256,

    /// <summary>RSA with a 2048-bit modulus, for old clients.</summary>
    Rsa2048,

    /// <summary>RSA with a 3072-bit modulus.</summary>
    Rsa3072,

    /// <summary>RSA with a 4096-bit modulus.</summary>
    Rsa4096,
}
