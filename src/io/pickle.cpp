#include "io/pickle.h"

#include <cstdio>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "io/bytes.h"
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

// A pickled object. Nodes live in the unpickler's arena and point at each other with raw
// pointers: the memo lets a pickle share objects and even build cycles, which an arena frees
// without recursion and without leaks.
struct Node {
  Kind kind = Kind::None;
  std::int64_t integer = 0;                // Bool, Int; Storage: numel
  std::string text;                        // Str; Global: "module.name"; Storage: key
  std::vector<Node*> items;                // Tuple, List; Dict: key, value, key, value, ...
  Callable callable{};                     // Global
  DType dtype{};                           // Global of a storage class, Storage
  const Node* storage = nullptr;           // Tensor
  std::int64_t offset = 0;                 // Tensor, in elements
  std::vector<std::int64_t> size, stride;  // Tensor
};

class Unpickler {
 public:
  Unpickler(std::span<const std::byte> data, const std::string& what) : data_(data), what_(what) {}

  const Node* run() {
    while (pos_ < data_.size()) {
      op_pos_ = pos_;
      if (step()) return pop();
    }
    op_pos_ = pos_;
    fail("pickle ends without STOP (truncated?)");
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
      case 0x95: take(8); break;                // FRAME: only a streaming reader cares about frames
      case '}': push(make(Kind::Dict)); break;  // EMPTY_DICT
      case ']': push(make(Kind::List)); break;  // EMPTY_LIST
      case ')': push(make(Kind::Tuple)); break;           // EMPTY_TUPLE
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
        const std::string module(line());
        const std::string name(line());
        push(resolve_global(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        const Node* name = pop();
        const Node* module = pop();
        if (module->kind != Kind::Str || name->kind != Kind::Str)
          fail("STACK_GLOBAL needs two strings");
        push(resolve_global(module->text, name->text));
        break;
      }
      case 'Q': push(persistent_load(pop())); break;     // BINPERSID
      case 'J': push_int(read<std::int32_t>()); break;   // BININT
      case 'K': push_int(read<std::uint8_t>()); break;   // BININT1
      case 'M': push_int(read<std::uint16_t>()); break;  // BININT2
      case 0x8a: push_int(long1()); break;               // LONG1
      case 0x88:                                         // NEWTRUE
      case 0x89: {                                       // NEWFALSE
        Node* b = make(Kind::Bool);
        b->integer = op == 0x88;
        push(b);
        break;
      }
      case 'N': push(make(Kind::None)); break;
      case 't': push(tuple(pop_mark())); break;  // TUPLE
      case 0x85:                                 // TUPLE1
      case 0x86:                                 // TUPLE2
      case 0x87: {                               // TUPLE3
        std::vector<Node*> items(op - 0x84u);
        for (auto it = items.rbegin(); it != items.rend(); ++it) *it = pop();
        push(tuple(std::move(items)));
        break;
      }
      case 'R': {  // REDUCE
        Node* args = pop();
        const Node* callable = pop();
        push(reduce(callable, args));
        break;
      }
      case 'b': {  // BUILD: only an OrderedDict's _metadata, which tensors do not need
        const Node* state = pop();
        if (top()->kind != Kind::Dict || state->kind != Kind::Dict)
          fail("BUILD of " + std::string(kind_name(state->kind)) + " onto " +
               std::string(kind_name(top()->kind)) +
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
        std::vector<Node*> items = pop_mark();
        if (items.size() % 2) fail("SETITEMS with an odd number of items");
        add_to(Kind::Dict, items);
        break;
      }
      case 'a': add_to(Kind::List, {pop()}); break;            // APPEND
      case 'e': add_to(Kind::List, pop_mark()); break;         // APPENDS
      case 'q': memo_put(read<std::uint8_t>()); break;         // BINPUT
      case 'r': memo_put(read<std::uint32_t>()); break;        // LONG_BINPUT
      case 0x94: memo_put(memo_.size()); break;                // MEMOIZE
      case 'h': push(memo_get(read<std::uint8_t>())); break;   // BINGET
      case 'j': push(memo_get(read<std::uint32_t>())); break;  // LONG_BINGET
      case 'G': {  // BINFLOAT, big-endian; floats carry nothing a tensor needs
        take(8);
        push(make(Kind::Float));
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
      fail("truncated pickle: needs " + std::to_string(n) + " bytes at byte " +
           std::to_string(pos_) + ", " + std::to_string(data_.size() - pos_) + " left");
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

  // --- the stack, its marks and the memo ---
  Node* make(Kind kind) {
    arena_.push_back(std::make_unique<Node>());
    arena_.back()->kind = kind;
    return arena_.back().get();
  }
  void push(Node* n) { stack_.push_back(n); }
  void push_str(std::uint64_t length) {
    Node* s = make(Kind::Str);
    s->text = as_text(take(length));
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
    std::vector<Node*> items(stack_.begin() + static_cast<std::ptrdiff_t>(marks_.back()),
                             stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }
  Node* tuple(std::vector<Node*> items) {
    Node* t = make(Kind::Tuple);
    t->items = std::move(items);
    return t;
  }
  void add_to(Kind kind, const std::vector<Node*>& items) {
    Node* target = top();
    if (target->kind != kind)
      fail("cannot add items to " + std::string(kind_name(target->kind)) + ", expected " +
           std::string(kind_name(kind)));
    target->items.insert(target->items.end(), items.begin(), items.end());
  }
  void memo_put(std::uint64_t index) {
    // A pickler numbers memo entries from 0, so an index past the pickle's size is hostile.
    if (index > data_.size()) fail("memo index " + std::to_string(index) + " out of range");
    memo_[index] = top();
  }
  Node* memo_get(std::uint64_t index) {
    const auto it = memo_.find(index);
    if (it == memo_.end()) fail("memo index " + std::to_string(index) + " was never stored");
    return it->second;
  }

  // --- the whitelisted globals and what calling them means ---
  Node* resolve_global(std::string_view module, std::string_view name) {
    Node* g = make(Kind::Global);
    g->text = std::string(module) + "." + std::string(name);
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
    fail("rejected global '" + g->text + "': a weights file may only name " +
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
    const auto& f = pid->items;
    if (f.size() != 5 || f[0]->kind != Kind::Str || f[0]->text != "storage")
      fail("persistent id is not ('storage', class, key, location, numel)");
    if (f[1]->kind != Kind::Global || f[1]->callable != Callable::StorageClass)
      fail("persistent id names no torch storage class");
    expect(f[2], Kind::Str, "storage key");
    expect(f[3], Kind::Str, "storage location");
    expect(f[4], Kind::Int, "storage size");
    if (f[4]->integer < 0) fail("negative storage size");
    Node* s = make(Kind::Storage);
    s->dtype = f[1]->dtype;
    s->text = f[2]->text;
    s->integer = f[4]->integer;
    return s;
  }

  Node* reduce(const Node* callable, Node* args) {
    expect(callable, Kind::Global, "REDUCE callable");
    expect(args, Kind::Tuple, "REDUCE arguments");
    const auto& a = args->items;
    switch (callable->callable) {
      case Callable::OrderedDict:
        if (!a.empty()) fail("OrderedDict() with arguments");
        return make(Kind::Dict);
      case Callable::RebuildTensorV2: return rebuild_tensor(a);
      case Callable::RebuildParameter:
        // _rebuild_parameter(data, requires_grad, backward_hooks): the tensor itself.
        if (a.size() != 3) fail("_rebuild_parameter takes 3 arguments");
        expect(a[0], Kind::Tensor, "_rebuild_parameter data");
        return a[0];
      case Callable::StorageClass: break;
    }
    fail("calling " + callable->text + " is not allowed");
  }

  std::vector<std::int64_t> ints(const Node* t, const char* what) const {
    expect(t, Kind::Tuple, what);
    std::vector<std::int64_t> out;
    for (const Node* n : t->items) {
      expect(n, Kind::Int, what);
      if (n->integer < 0) fail(std::string(what) + " has a negative entry");
      out.push_back(n->integer);
    }
    return out;
  }

  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks
  //                    [, metadata])
  Node* rebuild_tensor(const std::vector<Node*>& a) {
    if (a.size() != 6 && a.size() != 7) fail("_rebuild_tensor_v2 takes 6 or 7 arguments");
    expect(a[0], Kind::Storage, "tensor storage");
    expect(a[1], Kind::Int, "tensor storage offset");
    expect(a[4], Kind::Bool, "tensor requires_grad");
    expect(a[5], Kind::Dict, "tensor backward hooks");
    Node* t = make(Kind::Tensor);
    t->storage = a[0];
    t->offset = a[1]->integer;
    if (t->offset < 0) fail("negative tensor storage offset");
    t->size = ints(a[2], "tensor size");
    t->stride = ints(a[3], "tensor stride");
    if (t->size.size() != t->stride.size()) fail("tensor size and stride differ in length");
    return t;
  }

  std::span<const std::byte> data_;
  const std::string& what_;
  std::size_t pos_ = 0;
  std::size_t op_pos_ = 0;
  std::vector<std::unique_ptr<Node>> arena_;
  std::vector<Node*> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, Node*> memo_;
};

}  // namespace

std::vector<PickledTensor> unpickle_state_dict(std::span<const std::byte> pickle,
                                               const std::string& what) {
  Unpickler unpickler(pickle, what);
  const Node* root = unpickler.run();
  if (root->kind != Kind::Dict)
    throw Error(what + ": the pickle holds " + std::string(kind_name(root->kind)) +
                ", expected a dict of tensors (a state dict)");
  std::vector<PickledTensor> tensors;
  std::unordered_set<std::string> names;
  for (std::size_t i = 0; i < root->items.size(); i += 2) {
    const Node* key = root->items[i];
    const Node* value = root->items[i + 1];
    if (key->kind != Kind::Str)
      throw Error(what + ": state dict key is " + std::string(kind_name(key->kind)) +
                  ", expected a str");
    if (value->kind != Kind::Tensor)
      throw Error(what + ": state dict entry '" + key->text + "' is " +
                  std::string(kind_name(value->kind)) + ", expected a tensor");
    if (!names.insert(key->text).second)
      throw Error(what + ": state dict key '" + key->text + "' appears twice");
    PickledTensor t;
    t.name = key->text;
    t.dtype = value->storage->dtype;
    t.storage_key = value->storage->text;
    t.storage_numel = value->storage->integer;
    t.storage_offset = value->offset;
    t.size = value->size;
    t.stride = value->stride;
    tensors.push_back(std::move(t));
  }
  return tensors;
}

}  // namespace supra
