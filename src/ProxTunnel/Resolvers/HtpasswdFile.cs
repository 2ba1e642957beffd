using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text;
using Org.BouncyCastle.Crypto.Generators;

namespace ProxTunnel.Resolvers;

/// <summary>One loaded version of an htpasswd file: user name → bcrypt hash. Immutable; a change of the file loads a new one.</summary>
internal sealed class HtpasswdFile
{
    private const string BcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    private static readonly System.Buffers.SearchValues<char> BcryptChars = System.Buffers.SearchValues.Create(BcryptAlphabet);
    private const int SaltLength = 16;

    private readonly FrozenDictionary<string, BcryptHash> _users;

    // Checked for unknown user names, so that they cost as much as known ones and their absence cannot be timed.
    private readonly BcryptHash _decoy;

    private HtpasswdFile(FrozenDictionary<string, BcryptHash> users, FileStamp stamp)
    {
        _users = users;
        Stamp = stamp;
        var cost = users.Count == 0 ? 5 : users.Values.Max(u => u.Cost);
        _decoy = BcryptHash.Parse(OpenBsdBCrypt.Generate("2y", "decoy".ToCharArray(), RandomNumberGenerator.GetBytes(SaltLength), cost))!;
    }

    /// <summary>Modification time and size of the file this version was read from.</summary>
    public FileStamp Stamp { get; }

    public int Count => _users.Count;

    /// <summary>Reads and parses <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">A line is not <c>user:bcrypt-hash</c>.</exception>
    public static HtpasswdFile Load(string path)
    {
        // Taken before reading: a change during the read makes the next stamp differ, so it is read again.
        var stamp = FileStamp.Of(new FileInfo(path));
        var users = new Dictionary<string, BcryptHash>(StringComparer.Ordinal);
        var number = 0;
        foreach (var raw in File.ReadLines(path, Encoding.UTF8))
        {
            number++;
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var hash = colon > 0 ? BcryptHash.Parse(line[(colon + 1)..]) : null;
            if (hash is null)
            {
                throw new InvalidDataException(
                    $"{path}:{number}: not 'user:bcrypt-hash'; only bcrypt hashes are supported (create them with `htpasswd -B`).");
            }

            users[line[..colon]] = hash;
        }

        return new HtpasswdFile(users.ToFrozenDictionary(StringComparer.Ordinal), stamp);
    }

    /// <summary>True when <paramref name="user"/> exists with <paramref name="password"/>. Costs one bcrypt either way.</summary>
    public bool Verify(string user, string password)
    {
        var known = _users.TryGetValue(user, out var hash);
        var matches = (hash ?? _decoy).Matches(password);
        return known & matches;
    }

    /// <summary>What tells one version of a file from the next without reading it.</summary>
    internal readonly record struct FileStamp(DateTime LastWriteUtc, long Length)
    {
        public static FileStamp Of(FileInfo info) => info.Exists ? new(info.LastWriteTimeUtc, info.Length) : default;
    }

    /// <summary>A parsed <c>$2a$</c>/<c>$2b$</c>/<c>$2y$</c> hash.</summary>
    private sealed class BcryptHash
    {
        private readonly string _version;
        private readonly byte[] _salt;
        private readonly byte[] _expected;

        private BcryptHash(string version, int cost, byte[] salt, byte[] expected)
        {
            _version = version;
            Cost = cost;
            _salt = salt;
            _expected = expected;
        }

        public int Cost { get; }

        /// <summary>Parses <c>$2y$NN$</c> + 22 characters of salt + 31 of hash, or returns null.</summary>
        public static BcryptHash? Parse(string text)
        {
            if (text.Length != 60 || text[0] != '$' || text[3] != '$' || text[6] != '$' || text[1] != '2' || text[2] is not ('a' or 'b' or 'y')
                || !int.TryParse(text.AsSpan(4, 2), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var cost)
                || cost is < 4 or > 31)
            {
                return null;
            }

            var salt = DecodeSalt(text.AsSpan(7, 22));
            return salt is null || text.AsSpan(29).ContainsAnyExcept(BcryptChars)
                ? null
                : new BcryptHash(text.Substring(1, 2), cost, salt, Encoding.ASCII.GetBytes(text));
        }

        public bool Matches(string password)
        {
            var chars = password.ToCharArray();
            try
            {
                var actual = Encoding.ASCII.GetBytes(OpenBsdBCrypt.Generate(_version, chars, _salt, Cost));
                return CryptographicOperations.FixedTimeEquals(actual, _expected);
            }
            finally
            {
                Array.Clear(chars);
            }
        }

        /// <summary>bcrypt's own base64 (alphabet <c>./A–Za–z0–9</c>, no padding): 22 characters hold the 16-byte salt.</summary>
        private static byte[]? DecodeSalt(ReadOnlySpan<char> text)
        {
            var salt = new byte[SaltLength];
            var bits = 0;
            var accumulator = 0;
            var written = 0;
            foreach (var c in text)
            {
                var value = BcryptAlphabet.IndexOf(c, StringComparison.Ordinal);
                if (value < 0)
                {
                    return null;
                }

                accumulator = (accumulator << 6) | value;
                bits += 6;
                if (bits >= 8 && written < SaltLength)
                {
                    bits -= 8;
                    salt[written++] = (byte)(accumulator >> bits);
                    accumulator &= (1 << bits) - 1;
                }
            }

            return written == SaltLength ? salt : null;
        }
    }
}
