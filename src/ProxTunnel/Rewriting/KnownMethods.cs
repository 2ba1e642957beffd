using System.Text;

namespace ProxTunnel.Rewriting;

/// <summary>Interned method strings so resolvers get them without an allocation for the common methods.</summary>
internal static class KnownMethods
{
    private static readonly string[] Common = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE"];

    public static string GetString(ReadOnlySpan<byte> method)
    {
        foreach (var known in Common)
        {
            if (Ascii.Equals(method, known))
            {
                return known;
            }
        }

        return Encoding.ASCII.GetString(method);
    }
}
