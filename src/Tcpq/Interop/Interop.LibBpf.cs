using System.Runtime.InteropServices;

namespace Tcpq.Interop;

/// <summary>libbpf.so.1, declared once. Pointers stay in this folder: callers get the typed
/// handles of <see cref="BpfObject"/> and <see cref="BpfRingBuffer"/>.</summary>
internal static unsafe partial class LibBpf
{
    internal const string Library = "libbpf";

    /// <summary>Whether a pointer libbpf returned means failure: NULL (libbpf 1.x, with errno set) or,
    /// from libbpf 0.x, an errno encoded in the last page of the address space (-4095..-1).</summary>
    internal static bool IsError(nint pointer) => pointer == 0 || (pointer < 0 && pointer > -4096);

    // bpf_object
    [LibraryImport(Library, EntryPoint = "bpf_object__open_mem", SetLastError = true)]
    internal static partial nint ObjectOpenMem(byte* buffer, nuint size, nint opts);

    [LibraryImport(Library, EntryPoint = "bpf_object__load")]
    internal static partial int ObjectLoad(SafeBpfObjectHandle obj);

    [LibraryImport(Library, EntryPoint = "bpf_object__close")]
    internal static partial void ObjectClose(nint obj);

    [LibraryImport(Library, EntryPoint = "bpf_object__find_program_by_name", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint ObjectFindProgram(SafeBpfObjectHandle obj, string name);

    [LibraryImport(Library, EntryPoint = "bpf_object__find_map_by_name", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint ObjectFindMap(SafeBpfObjectHandle obj, string name);

    // bpf_map
    [LibraryImport(Library, EntryPoint = "bpf_map__fd")]
    internal static partial int MapFd(SafeBpfMapHandle map);

    [LibraryImport(Library, EntryPoint = "bpf_map__set_initial_value")]
    internal static partial int MapSetInitialValue(SafeBpfMapHandle map, void* data, nuint size);

    [LibraryImport(Library, EntryPoint = "bpf_map__initial_value")]
    internal static partial void* MapInitialValue(SafeBpfMapHandle map, nuint* size);

    [LibraryImport(Library, EntryPoint = "bpf_map__set_autocreate")]
    internal static partial int MapSetAutocreate(SafeBpfMapHandle map, [MarshalAs(UnmanagedType.U1)] bool autocreate);

    [LibraryImport(Library, EntryPoint = "bpf_map__set_max_entries")]
    internal static partial int MapSetMaxEntries(SafeBpfMapHandle map, uint maxEntries);

    [LibraryImport(Library, EntryPoint = "bpf_map__set_inner_map_fd")]
    internal static partial int MapSetInnerMapFd(SafeBpfMapHandle map, int fd);

    [LibraryImport(Library, EntryPoint = "bpf_map_create", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int MapCreate(uint mapType, string name, uint keySize, uint valueSize, uint maxEntries, nint opts);

    [LibraryImport(Library, EntryPoint = "bpf_map_lookup_elem", SetLastError = true)]
    internal static partial int MapLookupElem(int fd, void* key, void* value);

    [LibraryImport(Library, EntryPoint = "bpf_map_update_elem", SetLastError = true)]
    internal static partial int MapUpdateElem(int fd, void* key, void* value, ulong flags);

    [LibraryImport(Library, EntryPoint = "bpf_map_delete_elem", SetLastError = true)]
    internal static partial int MapDeleteElem(int fd, void* key);

    [LibraryImport(Library, EntryPoint = "bpf_map_get_next_key", SetLastError = true)]
    internal static partial int MapGetNextKey(int fd, void* key, void* nextKey);

    [LibraryImport(Library, EntryPoint = "libbpf_num_possible_cpus")]
    internal static partial int NumPossibleCpus();

    // bpf_program and bpf_link
    [LibraryImport(Library, EntryPoint = "bpf_program__set_autoload")]
    internal static partial int ProgramSetAutoload(SafeBpfProgramHandle prog, [MarshalAs(UnmanagedType.U1)] bool autoload);

    [LibraryImport(Library, EntryPoint = "bpf_program__attach", SetLastError = true)]
    internal static partial nint ProgramAttach(SafeBpfProgramHandle prog);

    [LibraryImport(Library, EntryPoint = "bpf_program__attach_cgroup", SetLastError = true)]
    internal static partial nint ProgramAttachCgroup(SafeBpfProgramHandle prog, int cgroupFd);

    [LibraryImport(Library, EntryPoint = "bpf_object__next_program")]
    internal static partial nint ObjectNextProgram(SafeBpfObjectHandle obj, nint previous);

    [LibraryImport(Library, EntryPoint = "bpf_program__name")]
    internal static partial byte* ProgramName(nint prog);

    [LibraryImport(Library, EntryPoint = "bpf_program__fd")]
    internal static partial int ProgramFd(SafeBpfProgramHandle prog);

    [LibraryImport(Library, EntryPoint = "bpf_prog_test_run_opts")]
    internal static partial int ProgTestRunOpts(int progFd, TestRunOpts* opts);

    [LibraryImport(Library, EntryPoint = "bpf_link__destroy")]
    internal static partial int LinkDestroy(nint link);

    // ring_buffer
    [LibraryImport(Library, EntryPoint = "ring_buffer__new", SetLastError = true)]
    internal static partial nint RingBufferNew(int mapFd, delegate* unmanaged<nint, void*, nuint, int> sample, nint ctx, nint opts);

    [LibraryImport(Library, EntryPoint = "ring_buffer__add", SetLastError = true)]
    internal static partial int RingBufferAdd(nint rb, int mapFd, delegate* unmanaged<nint, void*, nuint, int> sample, nint ctx);

    [LibraryImport(Library, EntryPoint = "ring_buffer__poll", SetLastError = true)]
    internal static partial int RingBufferPoll(SafeRingBufferHandle rb, int timeoutMs);

    [LibraryImport(Library, EntryPoint = "ring_buffer__consume", SetLastError = true)]
    internal static partial int RingBufferConsume(SafeRingBufferHandle rb);

    [LibraryImport(Library, EntryPoint = "ring_buffer__free")]
    internal static partial void RingBufferFree(nint rb);

    // btf
    [LibraryImport(Library, EntryPoint = "btf__parse", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial nint BtfParse(string path, nint extBtf);

    [LibraryImport(Library, EntryPoint = "btf__free")]
    internal static partial void BtfFree(nint btf);

    [LibraryImport(Library, EntryPoint = "btf__find_by_name_kind", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int BtfFindByNameKind(SafeBtfHandle btf, string name, uint kind);

    [LibraryImport(Library, EntryPoint = "btf__type_by_id")]
    internal static partial BtfType* BtfTypeById(SafeBtfHandle btf, uint id);

    [LibraryImport(Library, EntryPoint = "btf__name_by_offset")]
    internal static partial byte* BtfNameByOffset(SafeBtfHandle btf, uint offset);

    // logging
    [LibraryImport(Library, EntryPoint = "libbpf_set_print")]
    internal static partial nint SetPrint(delegate* unmanaged<int, byte*, nint, int> fn);

    internal const uint BtfKindPtr = 2;
    internal const uint BtfKindStruct = 4;
    internal const uint BtfKindEnum = 6;
    internal const uint BtfKindTypedef = 8;
    internal const uint BtfKindFuncProto = 13;
    internal const uint BtfKindEnum64 = 19;

    /// <summary>BPF_F_TEST_RUN_ON_CPU: bpf_test_run_opts.cpu says where.</summary>
    internal const uint TestRunOnCpu = 1;

    /// <summary>struct bpf_test_run_opts (libbpf 1.x), up to batch_size.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct TestRunOpts
    {
        public nuint Sz;
        public void* DataIn;
        public void* DataOut;
        public uint DataSizeIn;
        public uint DataSizeOut;
        public void* CtxIn;
        public void* CtxOut;
        public uint CtxSizeIn;
        public uint CtxSizeOut;
        public uint Retval;
        public int Repeat;
        public uint Duration;
        public uint Flags;
        public uint Cpu;
        public uint BatchSize;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct BtfType
    {
        public uint NameOff;
        public uint Info;
        public uint SizeOrType;
        public readonly uint Kind => (Info >> 24) & 0x1f;
        public readonly int Vlen => (int)(Info & 0xffff);
        public readonly bool KindFlag => (Info >> 31) != 0;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct BtfEnum
    {
        public uint NameOff;
        public int Value;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct BtfEnum64
    {
        public uint NameOff;
        public uint ValueLo32;
        public uint ValueHi32;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct BtfMember
    {
        public uint NameOff;
        public uint Type;
        public uint Offset;
    }
}
