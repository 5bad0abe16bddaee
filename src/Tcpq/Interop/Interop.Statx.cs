using System.Runtime.InteropServices;

namespace Tcpq.Interop;

internal static unsafe partial class Libc
{
    // struct statx (linux/stat.h): the same layout on every architecture, unlike struct stat
    [StructLayout(LayoutKind.Sequential, Size = 256)]
    private struct StatxBuffer
    {
        public uint Mask, BlkSize;
        public ulong Attributes;
        public uint Nlink, Uid, Gid;
        public ushort Mode, Spare0;
        public ulong Ino;
    }

    private const int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100;
    private const uint STATX_INO = 0x100;

    [LibraryImport(Library, EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Statx(int dirfd, string path, int flags, uint mask, StatxBuffer* buffer);

    /// <summary>The inode number of <paramref name="path"/> (not following a last symlink), or
    /// null when it cannot be read. A cgroup v2 directory's inode is its cgroup id.</summary>
    internal static ulong? InodeOf(string path)
    {
        StatxBuffer b;
        if (Statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_INO, &b) != 0 || (b.Mask & STATX_INO) == 0) return null;
        return b.Ino;
    }
}
