using Microsoft.Extensions.Logging;

namespace ProxTunnel.Certificates;

/// <summary>Source-generated log messages of <see cref="ProxyCertificateAuthority"/>.</summary>
internal static partial class CertificateAuthorityLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information,
        Message = "Created root CA {Path} (SHA-256 {Fingerprint}, expires {NotAfter:u})")]
    internal static partial void RootCreated(ILogger logger, string path, string fingerprint, DateTime notAfter);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information,
        Message = "Loaded root CA {Path} (SHA-256 {Fingerprint}, expires {NotAfter:u})")]
    internal static partial void RootLoaded(ILogger logger, string path, string fingerprint, DateTime notAfter);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning,
        Message = "Root CA {Path} expires {NotAfter:u} ({DaysLeft} days left); create a new one with 'ca init --force' and trust it again")]
    internal static partial void RootNearExpiry(ILogger logger, string path, DateTime notAfter, int daysLeft);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Moved existing root CA {Path} to {BackupPath}")]
    internal static partial void RootBackedUp(ILogger logger, string path, string backupPath);

    [LoggerMessage(EventId = 5, Level = LogLevel.Debug, Message = "Issued certificate for {Name} (serial {Serial}, expires {NotAfter:u})")]
    internal static partial void CertificateIssued(ILogger logger, string name, string serial, DateTime notAfter);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning,
        Message = "Cannot write to certificate cache directory {Directory}; certificates are kept in memory only")]
    internal static partial void CacheDirectoryUnwritable(ILogger logger, string directory, Exception exception);

    [LoggerMessage(EventId = 7, Level = LogLevel.Debug, Message = "Ignoring cached certificate file {Path}: {Reason}")]
    internal static partial void CachedFileIgnored(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 8, Level = LogLevel.Debug, Message = "Reloaded certificate for {Name} from {Path}")]
    internal static partial void CachedFileLoaded(ILogger logger, string name, string path);

    [LoggerMessage(EventId = 9, Level = LogLevel.Warning, Message = "Issuing a certificate for {Host} failed; the handshakes that wanted it fail")]
    internal static partial void IssuanceFailed(ILogger logger, string host, Exception exception);
}
