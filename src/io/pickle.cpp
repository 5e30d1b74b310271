#include "io/pickle.h"

#include <cstdio>
#include <deque>
#include <limits>
#include <string_view>
#include <unordered_set>

#include "io/bytes.h"
#include "io/json_file.h"
#include "supra/error.h"

namespace supra {

namespace {

enum class Kind { None, Bool, Int, Float, Str, Tuple, List, Dict, Global, Storage, Tensor };

// With its article, for messages: "an int", "a tensor".
std::string_view kind_name(Kind k) {
  switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "a bool";
    case Kind::Int: return "an int";
    case Kind::Float: return "a float";
    case Kind::Str: return "a str";
    case Kind::Tuple: return "a tuple";
    case Kind::List: return "a list";
    case Kind::Dict: return "a dict";
    case Kind::Global: return "a global";
    case Kind::Storage: return "a storage";
    case Kind::Tensor: return "a tensor";
  }
  return "?";
}

// The only callables a pickle may name.
enum class Callable { OrderedDict, RebuildTensorV2, RebuildParameter, StorageClass };

struct StorageClass {
  std::string_view name;
  DType dtype;
};
constexpr StorageClass kStorageClasses[] = {
    {"FloatStorage", DType::F32},  {"BFloat16Storage", DType::BF16}, {"HalfStorage", DType::F16},
    {"DoubleStorage", DType::F64}, {"LongStorage", DType::I64},      {"IntStorage", DType::I32},
    {"ShortStorage", DType::I16},  {"CharStorage", DType::I8},       {"ByteStorage", DType::U8},
    {"BoolStorage", DType::Bool}};

// A pickled object, kept small: a hostile pickle can make one per byte (10 MB of TUPLE1 opcodes
// are ten million nested tuples), so memory is a small multiple of the pickle's size only if a
// node is a few words. Nodes live in the unpickler's arena (a deque: no allocation per node)
// and point at each other with raw pointers: the memo lets a pickle share objects and even
// build cycles, which an arena frees without recursion and without leaks. Strings are views
// of the pickle's bytes; tuples keep their items in one shared pool.
struct Node {
  Kind kind = Kind::None;
  Callable callable{};      // Global
  DType dtype{};            // Global of a storage class, Storage
  std::uint32_t count = 0;  // Tuple, Tensor: items in the pool; Str, Storage: key length
  std::uint64_t first = 0;  // Tuple, Tensor: first item in the pool; List, Dict: index of their
                            // items in containers_; Str, Storage: key offset in the pickle
  std::int64_t integer = 0;  // Bool, Int; Storage: numel; Tensor: storage offset
};

class Unpickler {
 public:
  Unpickler(std::span<const std::byte> data, const std::string& what) : data_(data), what_(what) {
    // Offsets and lengths of strings are kept in 32 bits; a state dict's pickle is megabytes.
    if (data.size() > std::numeric_limits<std::uint32_t>::max())
      throw Error(what + ": a pickle of " + std::to_string(data.size()) + " bytes is too large (4 GiB at most)");
    none_ = make(Kind::None);
    true_ = make(Kind::Bool);
    true_->integer = 1;
    false_ = make(Kind::Bool);
    empty_tuple_ = make(Kind::Tuple);
    float_ = make(Kind::Float);
  }

  const Node* run() {
    while (pos_ < data_.size()) {
      op_pos_ = pos_;
      if (step()) return pop();
    }
    op_pos_ = pos_;
    fail("pickle ends without STOP (truncated?)");
  }

  // The root dict's str -> tensor entries, in pickle order.
  std::vector<PickledTensor> state_dict(const Node* root) const {
    if (root->kind != Kind::Dict)
      throw Error(what_ + ": the pickle holds " + std::string(kind_name(root->kind)) +
                  ", expected a dict of tensors (a state dict)");
    const std::vector<Node*>& items = containers_[root->first];
    std::vector<PickledTensor> tensors;
    tensors.reserve(items.size() / 2);
    std::unordered_set<std::string_view> names;
    for (std::size_t i = 0; i < items.size(); i += 2) {
      const Node* key = items[i];
      const Node* value = items[i + 1];
      if (key->kind != Kind::Str)
        throw Error(what_ + ": state dict key is " + std::string(kind_name(key->kind)) + ", expected a str");
      const std::string_view name = text(key);
      if (value->kind != Kind::Tensor)
        throw Error(what_ + ": state dict entry '" + shorten_text(name) + "' is " +
                    std::string(kind_name(value->kind)) + ", expected a tensor");
      if (!names.insert(name).second)
        throw Error(what_ + ": state dict key '" + shorten_text(name) + "' appears twice");
      const Node* storage = item(value, 0);
      PickledTensor t;
      t.name = name;
      t.dtype = storage->dtype;
      t.storage_key = text(storage);
      t.storage_numel = storage->integer;
      t.storage_offset = value->integer;
      t.size = ints(item(value, 1));
      t.stride = ints(item(value, 2));
      tensors.push_back(std::move(t));
    }
    return tensors;
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    throw Error(what_ + ": " + message + " at byte " + std::to_string(op_pos_));
  }

  // Interprets one opcode; true at STOP.
  bool step() {
    const auto op = static_cast<std::uint8_t>(take(1)[0]);
    switch (op) {
      case 0x80: {  // PROTO
        const unsigned proto = read<std::uint8_t>();
        if (proto < 2 || proto > 5) fail("unsupported pickle protocol " + std::to_string(proto));
        break;
      }
      case 0x95: take(8); break;                           // FRAME: only a streaming reader cares about frames
      case '}': push(make_container(Kind::Dict)); break;  // EMPTY_DICT
      case ']': push(make_container(Kind::List)); break;  // EMPTY_LIST
      case ')': push(empty_tuple_); break;                // EMPTY_TUPLE
      case '(': marks_.push_back(stack_.size()); break;   // MARK
      case 'X': push_str(read<std::uint32_t>()); break;   // BINUNICODE
      case 0x8c: push_str(read<std::uint8_t>()); break;   // SHORT_BINUNICODE
      case 0x8d: push_str(read<std::uint64_t>()); break;  // BINUNICODE8
      case 'T': {                                         // BINSTRING
        const auto n = read<std::int32_t>();
        if (n < 0) fail("negative BINSTRING length");
        push_str(static_cast<std::uint64_t>(n));
        break;
      }
      case 'U': push_str(read<std::uint8_t>()); break;  // SHORT_BINSTRING
      case 'c': {                                       // GLOBAL "module\nname\n"
        const std::string_view module = line();
        const std::string_view name = line();
        push(resolve_global(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        const Node* name = pop();
        const Node* module = pop();
        if (module->kind != Kind::Str || name->kind != Kind::Str) fail("STACK_GLOBAL needs two strings");
        push(resolve_global(text(module), text(name)));
        break;
      }
      case 'Q': push(persistent_load(pop())); break;     // BINPERSID
      case 'J': push_int(read<std::int32_t>()); break;   // BININT
      case 'K': push_int(read<std::uint8_t>()); break;   // BININT1
      case 'M': push_int(read<std::uint16_t>()); break;  // BININT2
      case 0x8a: push_int(long1()); break;               // LONG1
      case 0x88: push(true_); break;                     // NEWTRUE
      case 0x89: push(false_); break;                    // NEWFALSE
      case 'N': push(none_); break;
      case 't': push(tuple(pop_mark())); break;  // TUPLE
      case 0x85:                                 // TUPLE1
      case 0x86:                                 // TUPLE2
      case 0x87: {                               // TUPLE3
        const std::size_t n = op - 0x84u;
        if (stack_.size() < floor() + n) fail("pickle stack underflow");
        std::vector<Node*> items(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
        stack_.resize(stack_.size() - n);
        push(tuple(items));
        break;
      }
      case 'R': {  // REDUCE
        const Node* args = pop();
        const Node* callable = pop();
        push(reduce(callable, args));
        break;
      }
      case 'b': {  // BUILD: only an OrderedDict's _metadata, which tensors do not need
        const Node* state = pop();
        if (top()->kind != Kind::Dict || state->kind != Kind::Dict)
          fail("BUILD of " + std::string(kind_name(state->kind)) + " onto " + std::string(kind_name(top()->kind)) +
               " (only an OrderedDict's _metadata is accepted)");
        break;
      }
      case 's': {  // SETITEM
        Node* value = pop();
        Node* key = pop();
        add_to(Kind::Dict, {key, value});
        break;
      }
      case 'u': {  // SETITEMS
        const std::vector<Node*> items = pop_mark();
        if (items.size() % 2) fail("SETITEMS with an odd number of items");
        add_to(Kind::Dict, items);
        break;
      }
      case 'a': add_to(Kind::List, {pop()}); break;            // APPEND
      case 'e': add_to(Kind::List, pop_mark()); break;         // APPENDS
      case 'q': memo_put(read<std::uint8_t>()); break;         // BINPUT
      case 'r': memo_put(read<std::uint32_t>()); break;        // LONG_BINPUT
      case 0x94: memo_put(memo_count_); break;                 // MEMOIZE: the next index, as Python's len(memo)
      case 'h': push(memo_get(read<std::uint8_t>())); break;   // BINGET
      case 'j': push(memo_get(read<std::uint32_t>())); break;  // LONG_BINGET
      case 'G': {  // BINFLOAT, big-endian; floats carry nothing a tensor needs
        take(8);
        push(float_);
        break;
      }
      case '.': return true;  // STOP
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", op);
        fail("unsupported pickle opcode " + std::string(hex) +
             (op >= 0x20 && op < 0x7f ? " '" + std::string(1, static_cast<char>(op)) + "'" : ""));
      }
    }
    return false;
  }

  // --- reading the opcode stream; every length is checked against what is left ---
  std::span<const std::byte> take(std::uint64_t n) {
    if (n > data_.size() - pos_)
      fail("truncated pickle: needs " + std::to_string(n) + " bytes at byte " + std::to_string(pos_) + ", " +
           std::to_string(data_.size() - pos_) + " left");
    const auto bytes = data_.subspan(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return bytes;
  }
  template <typename T>
  T read() {
    return load_le<T>(take(sizeof(T)).data());
  }
  std::string_view as_text(std::span<const std::byte> bytes) const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
  std::string_view line() {
    const std::string_view rest = as_text(data_.subspan(pos_));
    const std::size_t end = rest.find('\n');
    if (end == std::string_view::npos) fail("truncated GLOBAL");
    pos_ += end + 1;
    return rest.substr(0, end);
  }
  std::int64_t long1() {
    const unsigned n = read<std::uint8_t>();
    if (n > 8) fail("LONG1 of " + std::to_string(n) + " bytes does not fit in 64 bits");
    const auto bytes = take(n);
    std::uint64_t v = 0;
    for (unsigned i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(bytes[i]) << (8 * i);
    if (n > 0 && n < 8 && (static_cast<std::uint8_t>(bytes[n - 1]) & 0x80u))
      v |= ~std::uint64_t{0} << (8 * n);  // sign-extend two's complement
    return static_cast<std::int64_t>(v);
  }

  // --- nodes and what they hold ---
  Node* make(Kind kind) {
    Node& n = arena_.emplace_back();
    n.kind = kind;
    return &n;
  }
  Node* make_container(Kind kind) {
    Node* n = make(kind);
    n->first = containers_.size();
    containers_.emplace_back();
    return n;
  }
  // A Str's or a Storage's text: a view of the pickle.
  std::string_view text(const Node* n) const {
    return as_text(data_.subspan(static_cast<std::size_t>(n->first), n->count));
  }
  // Item i of a Tuple or a Tensor (the caller has checked i < count).
  Node* item(const Node* n, std::size_t i) const { return pool_[static_cast<std::size_t>(n->first) + i]; }

  // --- the stack, its marks and the memo ---
  void push(Node* n) { stack_.push_back(n); }
  void push_str(std::uint64_t length) {
    const std::size_t start = pos_;
    take(length);
    Node* s = make(Kind::Str);
    s->first = start;
    s->count = static_cast<std::uint32_t>(length);  // fits: the pickle is under 4 GiB
    push(s);
  }
  void push_int(std::int64_t v) {
    Node* i = make(Kind::Int);
    i->integer = v;
    push(i);
  }
  std::size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  Node* pop() {
    if (stack_.size() <= floor()) fail("pickle stack underflow");
    Node* n = stack_.back();
    stack_.pop_back();
    return n;
  }
  Node* top() const {
    if (stack_.size() <= floor()) fail("pickle stack underflow");
    return stack_.back();
  }
  std::vector<Node*> pop_mark() {
    if (marks_.empty()) fail("no MARK on the pickle stack");
    std::vector<Node*> items(stack_.begin() + static_cast<std::ptrdiff_t>(marks_.back()), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }
  Node* tuple(const std::vector<Node*>& items) {
    if (items.empty()) return empty_tuple_;
    Node* t = make(Kind::Tuple);
    t->first = pool_.size();
    t->count = static_cast<std::uint32_t>(items.size());  // at most the stack, under 4G entries
    pool_.insert(pool_.end(), items.begin(), items.end());
    return t;
  }
  void add_to(Kind kind, const std::vector<Node*>& items) {
    const Node* target = top();
    if (target->kind != kind)
      fail("cannot add items to " + std::string(kind_name(target->kind)) + ", expected " +
           std::string(kind_name(kind)));
    std::vector<Node*>& into = containers_[target->first];
    into.insert(into.end(), items.begin(), items.end());
  }
  void memo_put(std::uint64_t index) {
    // A pickler numbers memo entries from 0, so an index past the pickle's size is hostile;
    // the memo's table is thus at most one pointer per byte of the pickle.
    if (index > data_.size()) fail("memo index " + std::to_string(index) + " out of range");
    if (index >= memo_.size()) memo_.resize(static_cast<std::size_t>(index) + 1, nullptr);
    if (!memo_[index]) ++memo_count_;
    memo_[index] = top();
  }
  Node* memo_get(std::uint64_t index) {
    if (index >= memo_.size() || !memo_[index]) fail("memo index " + std::to_string(index) + " was never stored");
    return memo_[index];
  }

  // --- the whitelisted globals and what calling them means ---
  Node* resolve_global(std::string_view module, std::string_view name) {
    Node* g = make(Kind::Global);
    if (module == "collections" && name == "OrderedDict") {
      g->callable = Callable::OrderedDict;
      return g;
    }
    if (module == "torch._utils" && name == "_rebuild_tensor_v2") {
      g->callable = Callable::RebuildTensorV2;
      return g;
    }
    if (module == "torch._utils" && name == "_rebuild_parameter") {
      g->callable = Callable::RebuildParameter;
      return g;
    }
    if (module == "torch") {
      for (const StorageClass& s : kStorageClasses) {
        if (name == s.name) {
          g->callable = Callable::StorageClass;
          g->dtype = s.dtype;
          return g;
        }
      }
    }
    fail("rejected global '" + shorten_text(module) + "." + shorten_text(name) + "': a weights file may only name " +
         "collections.OrderedDict, torch._utils._rebuild_tensor_v2/_rebuild_parameter and "
         "torch.*Storage (refusing to load it: it could run code)");
  }

  void expect(const Node* n, Kind kind, const char* what) const {
    if (n->kind != kind)
      fail(std::string(what) + " is " + std::string(kind_name(n->kind)) + ", expected " +
           std::string(kind_name(kind)));
  }

  // ('storage', StorageClass, key, location, numel) -> a reference to the zip entry data/<key>.
  Node* persistent_load(const Node* pid) {
    expect(pid, Kind::Tuple, "persistent id");
    if (pid->count != 5 || item(pid, 0)->kind != Kind::Str || text(item(pid, 0)) != "storage")
      fail("persistent id is not ('storage', class, key, location, numel)");
    const Node* cls = item(pid, 1);
    if (cls->kind != Kind::Global || cls->callable != Callable::StorageClass)
      fail("persistent id names no torch storage class");
    const Node* key = item(pid, 2);
    expect(key, Kind::Str, "storage key");
    expect(item(pid, 3), Kind::Str, "storage location");
    const Node* numel = item(pid, 4);
    expect(numel, Kind::Int, "storage size");
    if (numel->integer < 0) fail("negative storage size");
    Node* s = make(Kind::Storage);
    s->dtype = cls->dtype;
    s->first = key->first;
    s->count = key->count;
    s->integer = numel->integer;
    return s;
  }

  Node* reduce(const Node* callable, const Node* args) {
    expect(callable, Kind::Global, "REDUCE callable");
    expect(args, Kind::Tuple, "REDUCE arguments");
    switch (callable->callable) {
      case Callable::OrderedDict:
        if (args->count != 0) fail("OrderedDict() with arguments");
        return make_container(Kind::Dict);
      case Callable::RebuildTensorV2: return rebuild_tensor(args);
      case Callable::RebuildParameter:
        // _rebuild_parameter(data, requires_grad, backward_hooks): the tensor itself.
        if (args->count != 3) fail("_rebuild_parameter takes 3 arguments");
        expect(item(args, 0), Kind::Tensor, "_rebuild_parameter data");
        return item(args, 0);
      case Callable::StorageClass: break;
    }
    fail("calling a torch storage class is not allowed");
  }

  // Checks that `t` is a tuple of non-negative ints (read out by ints() at the end).
  void check_ints(const Node* t, const char* what) const {
    expect(t, Kind::Tuple, what);
    for (std::size_t i = 0; i < t->count; ++i) {
      expect(item(t, i), Kind::Int, what);
      if (item(t, i)->integer < 0) fail(std::string(what) + " has a negative entry");
    }
  }
  std::vector<std::int64_t> ints(const Node* t) const {
    std::vector<std::int64_t> out(t->count);
    for (std::size_t i = 0; i < t->count; ++i) out[i] = item(t, i)->integer;
    return out;
  }

  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks
  //                    [, metadata]) -> a Tensor whose items are (storage, size, stride).
  Node* rebuild_tensor(const Node* args) {
    if (args->count != 6 && args->count != 7) fail("_rebuild_tensor_v2 takes 6 or 7 arguments");
    Node* storage = item(args, 0);
    Node* size = item(args, 2);
    Node* stride = item(args, 3);
    expect(storage, Kind::Storage, "tensor storage");
    expect(item(args, 1), Kind::Int, "tensor storage offset");
    expect(item(args, 4), Kind::Bool, "tensor requires_grad");
    expect(item(args, 5), Kind::Dict, "tensor backward hooks");
    if (item(args, 1)->integer < 0) fail("negative tensor storage offset");
    check_ints(size, "tensor size");
    check_ints(stride, "tensor stride");
    if (size->count != stride->count) fail("tensor size and stride differ in length");
    Node* t = make(Kind::Tensor);
    t->integer = item(args, 1)->integer;
    t->first = pool_.size();
    t->count = 3;
    for (Node* part : {storage, size, stride}) pool_.push_back(part);
    return t;
  }

  std::span<const std::byte> data_;
  const std::string& what_;
  std::size_t pos_ = 0;
  std::size_t op_pos_ = 0;
  std::deque<Node> arena_;                       // every node, freed together
  std::deque<Node*> pool_;                       // the items of every tuple and tensor
  std::deque<std::vector<Node*>> containers_;    // the items of every list and dict
  Node* none_ = nullptr;                         // the immutable values are shared
  Node* true_ = nullptr;
  Node* false_ = nullptr;
  Node* empty_tuple_ = nullptr;
  Node* float_ = nullptr;
  std::vector<Node*> stack_;
  std::vector<std::size_t> marks_;
  std::vector<Node*> memo_;  // by index; nullptr where nothing was stored
  std::uint64_t memo_count_ = 0;
};

}  // namespace

std::vector<PickledTensor> unpickle_state_dict(std::span<const std::byte> pickle, const std::string& what) {
  Unpickler unpickler(pickle, what);
  const Node* root = unpickler.run();
  return unpickler.state_dict(root);
}

}  // namespace supra
