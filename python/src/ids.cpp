// Python values <-> token ids and logits arrays.
#include <limits>

#include "bindings.h"

namespace supra::python {

std::vector<TokenId> to_ids(const py::handle& ids, const std::string& what) {
  if (py::isinstance<py::str>(ids) || py::isinstance<py::bytes>(ids))
    throw py::type_error(what + " must be token ids (a list, NumPy array or tensor of ints), not text");
  py::array array = py::module_::import("numpy").attr("asarray")(ids);
  if (array.ndim() == 2 && array.shape(0) == 1) array = array[py::int_(0)];  // HF's input_ids [1, T]
  if (array.ndim() != 1)
    throw py::value_error(what + " must be one sequence of shape [T] or [1, T], got " + std::to_string(array.ndim()) +
                          " dimensions");
  if (array.size() == 0) return {};
  const char kind = array.dtype().kind();
  if (kind != 'i' && kind != 'u')
    throw py::type_error(what + " must be integers, got dtype " + py::str(array.dtype()).cast<std::string>());
  const auto values = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(array);
  std::vector<TokenId> out(static_cast<std::size_t>(values.size()));
  const std::int64_t* v = values.data();
  for (std::size_t t = 0; t < out.size(); ++t) {
    // A uint64 above int64's range wraps negative here, and is refused as negative.
    if (v[t] < 0 || v[t] > std::numeric_limits<TokenId>::max())
      throw py::value_error(what + ": token id " + std::to_string(v[t]) + " at position " + std::to_string(t) +
                            " is out of range");
    out[t] = static_cast<TokenId>(v[t]);
  }
  return out;
}

py::array_t<float> to_array(std::vector<float>&& values, std::vector<py::ssize_t> shape) {
  auto owner = std::make_unique<std::vector<float>>(std::move(values));
  const float* data = owner->data();
  py::capsule free_with_array(owner.get(), [](void* p) { delete static_cast<std::vector<float>*>(p); });
  owner.release();  // the capsule owns it now
  return py::array_t<float>(std::move(shape), data, free_with_array);
}

}  // namespace supra::python
