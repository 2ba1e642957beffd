using System.Runtime.InteropServices;

namespace ProxTunnel.Certificates;

/// <summary>Writes files that hold private keys: owner-only mode from the first byte, and atomically.</summary>
internal static class PrivateFile
{
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// Writes <paramref name="content"/> to a temporary file beside <paramref name="path"/> and moves it into place.
    /// Returns false, leaving the existing file alone, when <paramref name="overwrite"/> is false and the path already exists.
    /// </summary>
    internal static bool TryWrite(string path, ReadOnlySpan<byte> content, bool overwrite)
    {
        var directory = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(directory) && !Directory.Exists(directory))
        {
            // A directory made here for keys is private too; an existing one keeps the mode its owner chose.
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(directory);
            }
            else
            {
                Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }

            // A directory we made for keys must never be committed by accident when it sits inside a repository.
            File.WriteAllText(Path.Combine(directory, ".gitignore"), "*\n");
        }

        // Same directory, so the final move is a rename on the same file system and never a copy.
        var temp = Path.Combine(directory ?? ".", $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            var streamOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
            {
                // The mode is applied by open(2) itself, so the key is never readable by others, not even briefly.
                streamOptions.UnixCreateMode = OwnerReadWrite;
            }

            using (var stream = new FileStream(temp, streamOptions))
            {
                if (!OperatingSystem.IsWindows())
                {
                    // open(2) honours the umask, which could only remove bits; state the mode explicitly anyway.
                    File.SetUnixFileMode(stream.SafeFileHandle, OwnerReadWrite);
                }

                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }

            if (overwrite)
            {
                File.Move(temp, path, overwrite: true);
                return true;
            }

            if (File.Exists(path))
            {
                return false;
            }

            if (!OperatingSystem.IsWindows())
            {
                // On Unix, File.Move without overwrite checks for the target and then renames: two instances creating
                // the root at once could both "win" (seen: two roots). link(2) fails with EEXIST instead, atomically.
                if (Link(temp, path) == 0)
                {
                    return true;
                }

                if (Marshal.GetLastPInvokeError() == EExist)
                {
                    return false;
                }

                // A file system without hard links: fall back to the move below.
            }

            try
            {
                File.Move(temp, path, overwrite: false);
                return true;
            }
            catch (IOException) when (File.Exists(path))
            {
                return false;
            }
        }
        finally
        {
            TryDelete(temp);
        }
    }

    /// <summary>EEXIST on Linux and macOS.</summary>
    private const int EExist = 17;

    [DllImport("libc", EntryPoint = "link", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Link([MarshalAs(UnmanagedType.LPUTF8Str)] string existingPath, [MarshalAs(UnmanagedType.LPUTF8Str)] string newPath);

    private static void TryDelete(string path)
    {
        try
        {
            // Gone already after a successful move; otherwise remove the leftover.
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Nothing more to do: the original error, if any, is the one worth reporting.
        }
    }
}
