#pragma once
// Readers and writers shared by several entity codecs.

#include <string>

#include "json_reader.hpp"
#include "trueup/model/order.hpp"
#include "trueup/model/tender.hpp"

namespace trueup::model::detail {

void read_tender(Problems& p, const json& j, const std::string& path, Tender& out);
void read_discount(Problems& p, const json& j, const std::string& path, Currency currency, Discount& out);
void read_tax_line(Problems& p, const json& j, const std::string& path, Currency currency, TaxLine& out);
json discount_json(const Discount& d);
json tax_line_json(const TaxLine& t);

template <class T, class F>
json array_json(const std::vector<T>& items, F&& write) {
  json a = json::array();
  for (const auto& item : items) a.push_back(write(item));
  return a;
}

// Runs `read` on a fresh Problems and turns the outcome into a Result.
template <class T, class F>
Result<T> read_document(const json& j, std::string_view pointer, F&& read) {
  Problems problems;
  T out{};
  read(problems, j, std::string(pointer), out);
  if (problems.failed()) return problems.take();
  return out;
}

}  // namespace trueup::model::detail
